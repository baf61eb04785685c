#!/usr/bin/env bash
# Builds the example Spin apps (examples/*/) and the test apps (e2e/apps/*/).
# Each app is a folder with a spin.toml whose [component.<id>.build] command writes the
# wasm named by `source` next to the manifest; examples/spin_build.py runs those commands
# (a small `spin build`), skipping apps whose output is newer than their `watch` files.
#
#   examples/build.sh                     # build everything that is out of date
#   examples/build.sh c-http faults       # only these apps (folder names)
#   examples/build.sh --force [APP...]    # rebuild even if up to date
#   examples/build.sh --clean [APP...]    # delete the outputs
#   examples/build.sh --list              # app/component and output path
#
# Tools come from e2e/install-tools.sh (run it first on a fresh machine).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=tool-versions.sh
. "$HERE/tool-versions.sh"

FLAGS=()
SELECTED=()
BUILDING=1
for arg in "$@"; do
    case "$arg" in
        --force) FLAGS+=("$arg") ;;
        --clean|--list) FLAGS+=("$arg"); BUILDING=0 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        -*) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
        *) SELECTED+=("$arg") ;;
    esac
done

# Pinned tools installed by e2e/install-tools.sh take precedence over whatever is on PATH.
[ -d "$WIT_BINDGEN_ROOT/bin" ] && PATH="$WIT_BINDGEN_ROOT/bin:$PATH"
[ -d "$PY_VENV_DIR/bin" ] && PATH="$PY_VENV_DIR/bin:$PATH"
export PATH
# Apps that pin spin-sdk in requirements.txt get the matching venv (spin_build.py).
export SPINKUBE_PY_VENVS="$PY_VENV_DIR:$PY4_VENV_DIR:$PY5_VENV_DIR"

MANIFESTS=()
for m in "$HERE"/*/spin.toml "$ROOT"/e2e/apps/*/spin.toml; do
    [ -e "$m" ] || continue
    app=$(basename "$(dirname "$m")")
    if [ "${#SELECTED[@]}" -gt 0 ]; then
        want=0
        for s in "${SELECTED[@]}"; do [ "$s" = "$app" ] && want=1; done
        [ "$want" = 1 ] || continue
    fi
    MANIFESTS+=("$m")
done
if [ "${#SELECTED[@]}" -gt 0 ] && [ "${#MANIFESTS[@]}" -ne "${#SELECTED[@]}" ]; then
    echo "build.sh: unknown app among: ${SELECTED[*]} (see --list)" >&2
    exit 2
fi

# npm dependencies of JS apps (normally installed by e2e/install-tools.sh).
if [ "$BUILDING" = 1 ]; then
    for m in "${MANIFESTS[@]}"; do
        dir=$(dirname "$m")
        [ -e "$dir/package-lock.json" ] || continue
        if [ ! -e "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
            echo "==> npm ci in ${dir#"$ROOT"/}"
            # see e2e/install-tools.sh for why 'npm ci' may need the fallback
            (cd "$dir" && { npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
                npm install --no-save --no-audit --no-fund --loglevel=error; })
        fi
    done
fi

cd "$ROOT"
if ! python3 "$HERE/spin_build.py" "${FLAGS[@]}" "${MANIFESTS[@]}"; then
    echo "build.sh: build failed (missing tools? run e2e/install-tools.sh)" >&2
    exit 1
fi
