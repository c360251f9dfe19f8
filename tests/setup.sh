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
