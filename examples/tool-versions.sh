# Pinned tool versions shared by e2e/install-tools.sh and examples/build.sh.
# Sourced by bash; keep it to plain assignments.
SPIN_PY_SDK_VERSION=3.4.1
COMPONENTIZE_PY_VERSION=0.17.2
# Python spin-sdk 4 and 5 guests (WASI p3 components); apps pin one in their requirements.txt.
SPIN_PY4_SDK_VERSION=4.0.0
COMPONENTIZE_PY4_VERSION=0.23.0
SPIN_PY5_SDK_VERSION=5.0.0
COMPONENTIZE_PY5_VERSION=0.25.1
WIT_BINDGEN_VERSION=0.63.0
WASM_RUST_TARGET=wasm32-wasip1
# spin-sdk 6/7 guests (WASI p3 components) build for this one.
WASM_RUST_P3_TARGET=wasm32-wasip2
# Cache for tools installed by e2e/install-tools.sh (keyed by version).
SPINKUBE_TOOLS_DIR="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}"
WIT_BINDGEN_ROOT="$SPINKUBE_TOOLS_DIR/wit-bindgen-$WIT_BINDGEN_VERSION"
PY_VENV_DIR="$SPINKUBE_TOOLS_DIR/py-spin-sdk-$SPIN_PY_SDK_VERSION-componentize-py-$COMPONENTIZE_PY_VERSION"
PY4_VENV_DIR="$SPINKUBE_TOOLS_DIR/py-spin-sdk-$SPIN_PY4_SDK_VERSION-componentize-py-$COMPONENTIZE_PY4_VERSION"
PY5_VENV_DIR="$SPINKUBE_TOOLS_DIR/py-spin-sdk-$SPIN_PY5_SDK_VERSION-componentize-py-$COMPONENTIZE_PY5_VERSION"
WASM_TOOLS_VERSION=1.263.0   # optional (install-tools.sh --wasm-tools)
WASM_TOOLS_ROOT="$SPINKUBE_TOOLS_DIR/wasm-tools-$WASM_TOOLS_VERSION"
