#!/usr/bin/env bash
# The main job: a local end-to-end demo of elastic-jit on this machine, nothing in the cloud.
# Installs what it needs (moto and cargo-lambda into .venv), builds the five functions and the
# Elasticsearch and Elastic Cloud emulators, starts moto's server, the emulators and
# `cargo lambda watch -A 127.0.0.1` on free loopback ports, and walks the whole story:
# register, discover, flow, request, approve, credentials, use, revoke, cleanup, audit trail;
# then an Elastic Cloud deployment role. Exits non-zero if any step misbehaves; every process
# it started is stopped either way. Process logs: target/e2e/<run>/.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/setup.sh

ensure_moto
ensure_cargo_lambda

echo "==> cargo build (the functions, the emulators and the demo)"
cargo build --bins -p discover -p provision -p revoke -p rotate -p cleanup -p es-emulator -p cloud-emulator
cargo build -p e2e --bin demo

echo "==> demo"
exec cargo run --quiet -p e2e --bin demo
