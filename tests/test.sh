#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test in the workspace.
# Tests start their own moto server and emulators on free loopback ports; set AWS_ENDPOINT_URL
# to run the AWS side against another endpoint (e.g. LocalStack) instead of moto.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/setup.sh

ensure_moto
ensure_cargo_lambda
ensure_elasticsearch_client
ensure_infra_tools
ensure_schemathesis
ensure_chromium

echo "==> sam validate / cfn-lint / openapi-spec-validator"
(
    venv="${ELASTIC_JIT_INFRA_VENV:-$PWD/.venv-infra}"
    cd infra
    SAM_CLI_TELEMETRY=0 "$venv/bin/sam" validate --lint --region us-east-1 -t template.yaml
    "$venv/bin/cfn-lint" template.yaml
    "$venv/bin/openapi-spec-validator" openapi.yaml
)

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked --no-fail-fast
