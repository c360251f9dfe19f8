#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test in the workspace.
# Tests start their own moto server and emulators on free loopback ports; set AWS_ENDPOINT_URL
# to run the AWS side against another endpoint (e.g. LocalStack) instead of moto.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/setup.sh

ensure_moto

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked
