#!/usr/bin/env bash
# Installs everything needed to build the example and test Spin apps
# (examples/build.sh) on a Debian machine, skipping whatever is already there.
# Meant to run as root; needs only the package registries (apt, PyPI, npm, crates.io).
#
#   e2e/install-tools.sh               # apt + python + rust target + wit-bindgen + npm deps
#   e2e/install-tools.sh --wasm-tools  # additionally wasm-tools (handy for inspecting outputs)
#
# Tool versions are pinned in examples/tool-versions.sh. Cargo-installed tools live under
# ~/.cache/spinkube/tools/<tool>-<version> and are reused when present.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../examples/tool-versions.sh
. "$ROOT/examples/tool-versions.sh"

WITH_WASM_TOOLS=0
for arg in "$@"; do
    case "$arg" in
        --wasm-tools) WITH_WASM_TOOLS=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

log()  { printf '==> %s\n' "$*"; }
skip() { printf '    ok: %s\n' "$*"; }
die()  { printf 'install-tools: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR

mkdir -p "$SPINKUBE_TOOLS_DIR"

# ---------------------------------------------------------------- apt
pkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

log "apt packages"
# libseccomp-dev, pkg-config, protobuf-compiler: building the shim (youki's libcontainer, containerd API bindings).
# mosquitto(-clients), postgresql, mariadb-server: outbound MQTT / PostgreSQL / MySQL tests
# (the testenv crate starts throwaway servers; Debian's postgresql puts its binaries in
# /usr/lib/postgresql/<major>/bin, which testenv searches too).
APT_WANT=(clang lld wasi-libc libclang-rt-dev-wasm32 redis-server docker-registry apache2-utils
    libseccomp-dev pkg-config protobuf-compiler mosquitto mosquitto-clients postgresql
    mariadb-server mariadb-client)
APT_MISSING=()
for p in "${APT_WANT[@]}"; do
    if pkg_installed "$p"; then skip "$p"; else APT_MISSING+=("$p"); fi
done
# Node may come from elsewhere (e.g. nodesource); only the commands matter.
if command -v node >/dev/null && command -v npm >/dev/null; then
    skip "node $(node --version), npm $(npm --version)"
else
    APT_MISSING+=(nodejs npm)
fi
command -v python3 >/dev/null || APT_MISSING+=(python3)

py_tools_present() { # $1 = python interpreter, $2 = spin-sdk version, $3 = componentize-py version
    "$1" - "$2" "$3" <<'PY' 2>/dev/null
import sys, importlib.metadata as m
ok = m.version("spin-sdk") == sys.argv[1] and m.version("componentize-py") == sys.argv[2]
sys.exit(0 if ok else 1)
PY
}
PY_MODE=
if command -v python3 >/dev/null && command -v componentize-py >/dev/null &&
    py_tools_present python3 "$SPIN_PY_SDK_VERSION" "$COMPONENTIZE_PY_VERSION"; then
    PY_MODE=system
elif [ -x "$PY_VENV_DIR/bin/python" ] &&
    py_tools_present "$PY_VENV_DIR/bin/python" "$SPIN_PY_SDK_VERSION" "$COMPONENTIZE_PY_VERSION"; then
    PY_MODE=venv-present
else
    PY_MODE=venv-create
fi
# spin-sdk 4 and 5 each live in a venv of their own: their componentize-py would shadow the one
# above. Each entry: dir, spin-sdk version, componentize-py version.
EXTRA_VENVS=("$PY4_VENV_DIR $SPIN_PY4_SDK_VERSION $COMPONENTIZE_PY4_VERSION"
    "$PY5_VENV_DIR $SPIN_PY5_SDK_VERSION $COMPONENTIZE_PY5_VERSION")
EXTRA_MISSING=()
for v in "${EXTRA_VENVS[@]}"; do
    read -r dir sdk cpy <<<"$v"
    [ -x "$dir/bin/python" ] && py_tools_present "$dir/bin/python" "$sdk" "$cpy" || EXTRA_MISSING+=("$v")
done
if [ "$PY_MODE" = venv-create ] || [ "${#EXTRA_MISSING[@]}" -gt 0 ]; then
    pkg_installed python3-venv || APT_MISSING+=(python3-venv)
fi

if [ "${#APT_MISSING[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "need root to apt-get install: ${APT_MISSING[*]}"
    log "apt-get update (missing: ${APT_MISSING[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q -o DPkg::Lock::Timeout=600
    log "apt-get install ${APT_MISSING[*]}"
    apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${APT_MISSING[@]}"
fi

# ---------------------------------------------------------------- python
log "python: spin-sdk==$SPIN_PY_SDK_VERSION componentize-py==$COMPONENTIZE_PY_VERSION"
make_py_venv() { # $1 = dir, $2 = spin-sdk version, $3 = componentize-py version
    log "creating venv $1"
    rm -rf "$1"   # a half-finished earlier attempt fails the checks above
    python3 -m venv "$1"
    "$1/bin/python" -m pip install -q --disable-pip-version-check \
        "spin-sdk==$2" "componentize-py==$3"
    py_tools_present "$1/bin/python" "$2" "$3" || die "python tools not importable after install in $1"
}
case "$PY_MODE" in
    system) skip "installed in $(command -v python3)" ;;
    venv-present) skip "venv $PY_VENV_DIR" ;;
    venv-create) make_py_venv "$PY_VENV_DIR" "$SPIN_PY_SDK_VERSION" "$COMPONENTIZE_PY_VERSION" ;;
esac
for v in "${EXTRA_VENVS[@]}"; do
    read -r dir sdk cpy <<<"$v"
    log "python: spin-sdk==$sdk componentize-py==$cpy"
    if [[ " ${EXTRA_MISSING[*]} " == *" $v "* ]]; then
        make_py_venv "$dir" "$sdk" "$cpy"
    else
        skip "venv $dir"
    fi
done

# ---------------------------------------------------------------- rust
command -v cargo >/dev/null || die "cargo not found (install Rust with rustup first)"
command -v rustup >/dev/null || die "rustup not found (needed for 'rustup target add $WASM_RUST_TARGET')"
for t in "$WASM_RUST_TARGET" "$WASM_RUST_P3_TARGET"; do
    log "rust target $t"
    if rustup target list --installed | grep -qx "$t"; then
        skip "$t"
    else
        rustup target add "$t"
    fi
done

# cargo_tool <crate> <version> <root> <binary> [extra cargo install args...]
cargo_tool() {
    local crate=$1 version=$2 root=$3 bin=$4; shift 4
    if [ -x "$root/bin/$bin" ] && "$root/bin/$bin" --version 2>/dev/null | grep -qF "$version"; then
        skip "$crate $version ($root/bin/$bin)"
        return
    fi
    log "cargo install $crate@$version --root $root (compiles for a few minutes)"
    cargo install --locked --quiet "$crate" --version "=$version" --root "$root" "$@"
    "$root/bin/$bin" --version
}

log "wit-bindgen-cli $WIT_BINDGEN_VERSION"
# Only the C generator is needed; leaving out the other generators shortens the compile.
cargo_tool wit-bindgen-cli "$WIT_BINDGEN_VERSION" "$WIT_BINDGEN_ROOT" wit-bindgen \
    --no-default-features --features c

if [ "$WITH_WASM_TOOLS" = 1 ]; then
    log "wasm-tools $WASM_TOOLS_VERSION"
    cargo_tool wasm-tools "$WASM_TOOLS_VERSION" "$WASM_TOOLS_ROOT" wasm-tools
fi

# ---------------------------------------------------------------- npm
log "npm dependencies"
for lock in "$ROOT"/examples/*/package-lock.json "$ROOT"/e2e/apps/*/package-lock.json; do
    [ -e "$lock" ] || continue
    dir=$(dirname "$lock")
    # npm ci writes node_modules/.package-lock.json; newer than the lock file means up to date.
    if [ -e "$dir/node_modules/.package-lock.json" ] && [ "$dir/node_modules/.package-lock.json" -nt "$lock" ]; then
        skip "${dir#"$ROOT"/}/node_modules"
    else
        log "npm ci in ${dir#"$ROOT"/}"
        # A registry mirror that lacks some platform-specific optional packages (e.g.
        # @rolldown/binding-darwin-x64) yields a lock file without them, which 'npm ci'
        # rejects as out of sync; 'npm install --no-save' still installs the locked
        # versions without rewriting package-lock.json.
        npm_log=$(mktemp)
        if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$npm_log" 2>&1; then
            grep -m3 -E 'npm error (Missing|code|[0-9])' "$npm_log" | sed 's/^/    /' || true
            log "npm ci failed; falling back to 'npm install --no-save' in ${dir#"$ROOT"/}"
            (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error)
        fi
        rm -f "$npm_log"
    fi
done

log "all tools present"
