#!/usr/bin/env bash
# The main job: elastic-jit running locally, nothing in the cloud.
# Installs what it needs (moto and cargo-lambda into .venv), builds the five functions, the
# Elasticsearch and Elastic Cloud emulators and the local stack, then starts on free loopback
# ports: moto's server, the emulators, `cargo lambda watch -A 127.0.0.1` serving the functions, a
# development OpenID Connect provider, an HTTP API gateway with the template's JWT authorizer, and
# the glue that fires schedules and rotations. It walks the whole story through the HTTP API with
# real tokens (refusals of bad tokens, register, discover, flow, request, approve, credentials,
# use, revoke, cleanup, audit trail, an Elastic Cloud deployment role, a 2-minute grant that
# expires by itself, and a cluster without security behind the authorizing proxy: an allowed
# search, a refused index, the proxy's audit lines), prints the API's URL, the login page and the demo identities, and keeps
# serving until Ctrl-C.
#
#   bash tests/demo.sh           story, then keep serving (GLUE_SPEEDUP=10 by default here:
#                                the template's rate()/cron() schedules run 10x faster)
#   bash tests/demo.sh --once    story only (also when CI=true); exit code says whether it passed
#
# Every process it started is stopped on exit. Process logs: target/e2e/<run>/.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/setup.sh

ensure_moto
ensure_cargo_lambda

echo "==> cargo build (the functions, the emulators and the local stack)"
cargo build --bins -p discover -p provision -p revoke -p rotate -p cleanup -p portal -p proxy -p es-emulator -p cloud-emulator
cargo build -p local-stack --bin local-stack

echo "==> demo"
export GLUE_SPEEDUP="${GLUE_SPEEDUP:-10}"
exec cargo run --quiet -p local-stack --bin local-stack -- "$@"
