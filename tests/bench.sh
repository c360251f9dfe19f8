#!/usr/bin/env bash
# The benchmark (not part of tests/test.sh): builds the function binaries in release, then runs
# them behind a loopback Lambda Runtime API against moto (through a counting proxy) and the
# Elasticsearch emulator, and prints one table. Options go to the benchmark:
#   --quick      small discovery and sweep sizes
#   --json       machine-readable output
#   --verbose    every call of every operation, by service and action
#   --runs N     warm runs per latency measurement (default 15)
#   --proxy-only only the proxy line (added latency and throughput of proxy --serve)
#   --proxy-requests N / --proxy-seconds S   its sample sizes (default 500 and 3)
# Exits non-zero when a count is above its budget (see README "Benchmark").
# moto rolls transactions back by an undo log rather than a copy of the whole table
# (tests/harness MOTO_UNDO_LOG_PATCH); ELASTIC_JIT_MOTO_ROLLBACK=stock measures stock moto.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/setup.sh

ensure_moto

target="${CARGO_TARGET_DIR:-$PWD/target}"
echo "==> cargo build --release (discover, provision, revoke, cleanup, rotate, proxy)" >&2
cargo build --release --locked -p discover -p provision -p revoke -p cleanup -p rotate -p proxy >&2
# The harness (emulators, proxy, runtime API) is built like the tests: it is not measured.
echo "==> cargo build -p bench" >&2
cargo build --locked -p bench --bin bench >&2
export ELASTIC_JIT_MOTO_ROLLBACK="${ELASTIC_JIT_MOTO_ROLLBACK:-undo-log}"
exec "$target/debug/bench" --bin-dir "$target/release" "$@"
