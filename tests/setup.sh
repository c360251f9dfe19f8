# Sourced by tests/test.sh: installs, once, what the test suite needs beyond the Rust toolchain.
# Everything goes into the checkout (.venv), never into the system, and is reused when present.

MOTO_VERSION="5.2.5"

ensure_moto() {
    local venv="${ELASTIC_JIT_VENV:-$PWD/.venv}"
    if "$venv/bin/python" -c "import moto, moto.server; assert moto.__version__ == '$MOTO_VERSION'" 2>/dev/null; then
        return 0
    fi
    echo "==> installing moto[server] $MOTO_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
}

# cargo-lambda (and ziglang) from PyPI, into the same virtualenv as moto: the end-to-end test and
# tests/demo.sh run the function binaries under `cargo lambda watch`.
CARGO_LAMBDA_VERSION="1.9.2"

ensure_cargo_lambda() {
    local venv="${ELASTIC_JIT_VENV:-$PWD/.venv}"
    if "$venv/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VERSION"; then
        return 0
    fi
    echo "==> installing cargo-lambda $CARGO_LAMBDA_VERSION into $venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
}

# cargo-hakari, into the checkout (.tools), to check that workspace-hack/ is current: a stale
# one lets `cargo run --bin X` (what `cargo lambda watch` runs) resolve other features than the
# stack's joint build, so each function's first invocation compiled shared/ again, for minutes
# on a loaded machine, and a client waiting on it timed out.
CARGO_HAKARI_VERSION="0.9.39"

ensure_cargo_hakari() {
    local root="${ELASTIC_JIT_TOOLS:-$PWD/.tools}"
    if "$root/bin/cargo-hakari" hakari --version 2>/dev/null | grep -q "$CARGO_HAKARI_VERSION"; then
        return 0
    fi
    echo "==> installing cargo-hakari $CARGO_HAKARI_VERSION into $root"
    cargo install --quiet --locked --root "$root" cargo-hakari --version "$CARGO_HAKARI_VERSION"
}

# Infrastructure checks (sam validate --lint, cfn-lint, the OpenAPI validator) in their own
# virtualenv: aws-sam-cli pins boto3 differently from moto. All three run offline.
SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
OPENAPI_SPEC_VALIDATOR_VERSION="0.9.0"

ensure_infra_tools() {
    local venv="${ELASTIC_JIT_INFRA_VENV:-$PWD/.venv-infra}"
    if "$venv/bin/python" - 2>/dev/null <<PY
from importlib.metadata import version
assert version("aws-sam-cli") == "$SAM_CLI_VERSION"
assert version("cfn-lint") == "$CFN_LINT_VERSION"
assert version("openapi-spec-validator") == "$OPENAPI_SPEC_VALIDATOR_VERSION"
PY
    then
        return 0
    fi
    echo "==> installing aws-sam-cli $SAM_CLI_VERSION, cfn-lint $CFN_LINT_VERSION, openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION into $venv"
    python3 -m venv "$venv"
    # Keep the virtualenv out of git without touching the repository's .gitignore.
    echo '*' > "$venv/.gitignore"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "aws-sam-cli==$SAM_CLI_VERSION" \
        "cfn-lint==$CFN_LINT_VERSION" \
        "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
}

# Elastic's official Python client, into the same virtualenv as moto: a test drives the
# Elasticsearch emulator through it, so the emulator answers the way real clients expect.
ELASTICSEARCH_PY_VERSION="9.1.0"

ensure_elasticsearch_client() {
    local venv="${ELASTIC_JIT_VENV:-$PWD/.venv}"
    if "$venv/bin/python" -c "import elasticsearch; assert elasticsearch.__versionstr__ == '$ELASTICSEARCH_PY_VERSION'" 2>/dev/null; then
        return 0
    fi
    echo "==> installing elasticsearch (Python client) $ELASTICSEARCH_PY_VERSION into $venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "elasticsearch==$ELASTICSEARCH_PY_VERSION"
}

# schemathesis (property-based API fuzzing against infra/openapi.yaml), into the same virtualenv:
# the local stack's fuzz test runs it against the running HTTP API. It only adds packages next
# to moto (no version of moto's dependencies changes).
SCHEMATHESIS_VERSION="4.32.5"

ensure_schemathesis() {
    local venv="${ELASTIC_JIT_VENV:-$PWD/.venv}"
    if "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
        return 0
    fi
    echo "==> installing schemathesis $SCHEMATHESIS_VERSION into $venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

# Debian's chromium and chromium-driver for the portal's browser tests (tests/local-stack/tests/
# portal.rs drives them over WebDriver). System packages: apt-get, with sudo only when not root.
ensure_chromium() {
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        return 0
    fi
    echo "==> installing chromium and chromium-driver (Debian packages)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
}
