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
ensure_cargo_hakari

echo "==> sam validate / cfn-lint / openapi-spec-validator"
(
    venv="${ELASTIC_JIT_INFRA_VENV:-$PWD/.venv-infra}"
    cd infra
    SAM_CLI_TELEMETRY=0 "$venv/bin/sam" validate --lint --region us-east-1 -t template.yaml
    "$venv/bin/cfn-lint" template.yaml
    # The example stack declaring an integration and a flow as custom resources.
    "$venv/bin/cfn-lint" examples/integration-stack.yaml
    "$venv/bin/openapi-spec-validator" openapi.yaml
)

echo "==> cargo hakari verify (workspace-hack/ is current)"
PATH="${ELASTIC_JIT_TOOLS:-$PWD/.tools}/bin:$PATH" cargo hakari verify
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --locked --no-run
# Three streams run side by side, each test process with its own moto and emulators, so the
# machine's cores are used while one stream waits: (1) the local stack's story (it mostly waits
# for its 2-minute grant to expire and the template's schedules to fire), then the cleanup
# package (the 2,000-grant sweep, bound by its moto); (2) the revoke package (the fault matrix,
# which mostly waits out timeouts); (3) everything else. The side streams' output is printed
# when they end.
# Every stream selects the whole workspace (`--workspace`, then test targets by name), so each
# one resolves the same features as the build above and reuses it: `-p` would resolve features
# for the chosen packages alone and compile much of the tree again beside the tests.
mkdir -p target
story_log="target/story-cleanup-test.log"
faults_log="target/revoke-test.log"
# The revoke and cleanup packages' tests are their integration tests (tests/*.rs and
# tests/*/main.rs); the rest stream excludes the two packages, so a unit test in their src/
# would run nowhere: refuse it here rather than skip it quietly.
if grep -rqE '#\[(tokio::)?test' functions/revoke/src functions/cleanup/src; then
    echo "unit tests in functions/revoke/src or functions/cleanup/src would not run: move them to tests/" >&2
    exit 1
fi
targets_of() {
    for t in "$1"/tests/*; do
        if [ -f "$t" ] && [[ "$t" == *.rs ]] || [ -f "$t/main.rs" ]; then
            printf -- '--test\n%s\n' "$(basename "$t" .rs)"
        fi
    done
}
mapfile -t cleanup_targets < <(targets_of functions/cleanup)
mapfile -t revoke_targets < <(targets_of functions/revoke)
(
    rc=0
    cargo test --workspace --test story --locked || rc=$?
    cargo test --workspace "${cleanup_targets[@]}" --locked --no-fail-fast || rc=$?
    exit "$rc"
) >"$story_log" 2>&1 &
story=$!
cargo test --workspace "${revoke_targets[@]}" --locked --no-fail-fast >"$faults_log" 2>&1 &
faults=$!
# Interrupted (Ctrl-C, a CI timeout, a failing step): stop the side streams too, and show what
# they did.
stop_side_streams() {
    for pid in "$story" "$faults"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            echo "==> a side stream was stopped; its output so far:"
        fi
    done
    cat "$story_log" "$faults_log" 2>/dev/null || true
}
trap stop_side_streams EXIT
rest=0
cargo test --workspace --exclude revoke --exclude cleanup --locked --no-fail-fast \
    -- --skip the_story_through_the_local_http_api || rest=$?
faults_rc=0
wait "$faults" || faults_rc=$?
story_rc=0
wait "$story" || story_rc=$?
trap - EXIT
echo "==> revoke: the fault matrix (run beside the rest)"
cat "$faults_log"
echo "==> the local stack's story, then cleanup (run beside the rest)"
cat "$story_log"
if [ "$rest" -ne 0 ] || [ "$faults_rc" -ne 0 ] || [ "$story_rc" -ne 0 ]; then
    echo "==> FAILED (rest: exit $rest, revoke: exit $faults_rc, story and cleanup: exit $story_rc)"
    exit 1
fi
