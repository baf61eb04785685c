#!/usr/bin/env bash
# Builds the node installer image without Docker and pushes it: spinkube-node-installer and the
# shim it installs (containerd-shim-spin-v2, with its sha256 beside it), both static (musl)
# release binaries, on an empty base, so the shim runs on any node. Runs as root: it edits the
# host's containerd config.
#
#   e2e/images/push-node-installer-image.sh 127.0.0.1:5000/spinkube-node-installer-rs:0.1.0
#   SHIM=/path/to/containerd-shim-spin-v2 e2e/images/push-node-installer-image.sh REF
#       # another shim build instead of the static one: the e2e tests pass the workspace's host
#       # build (the one the shim suites test), which saves them a release build of wasmtime
# Needs the x86_64-unknown-linux-musl Rust target, musl-gcc and libseccomp-dev
# (e2e/cluster/build-tools.sh). Prints the pushed image's digest reference.
set -euo pipefail

[ $# -eq 1 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target=x86_64-unknown-linux-musl
target_dir="${CARGO_TARGET_DIR:-$root/target}"
# The same build as push-operator-image.sh (one feature set for their shared dependencies).
# ring's C code for musl is compiled with musl-gcc.
CC_x86_64_unknown_linux_musl=musl-gcc cargo build -q --release --locked --target "$target" \
  --manifest-path "$root/Cargo.toml" -p spinkube-operator -p spinkube-node-installer >&2
installer="$target_dir/$target/release/spinkube-node-installer"
static=("$installer")
if [ -n "${SHIM:-}" ]; then
  shim="$SHIM"
else
  # The shim links libseccomp (libcontainer) statically.
  LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH="$("$here/static-seccomp.sh")" \
    CC_x86_64_unknown_linux_musl=musl-gcc cargo build -q --release --locked --target "$target" \
    --manifest-path "$root/Cargo.toml" -p spinkube-shim >&2
  shim="$target_dir/$target/release/containerd-shim-spin-v2"
  static+=("$shim")
fi
for bin in "${static[@]}"; do
  # The shim runs on the host, the installer in an empty image: neither may need a shared library.
  if readelf -d "$bin" | grep -q NEEDED; then
    echo "$bin is not statically linked: $(readelf -d "$bin" | grep NEEDED)" >&2
    exit 1
  fi
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$shim" "$work/containerd-shim-spin-v2"
(cd "$work" && sha256sum containerd-shim-spin-v2 > containerd-shim-spin-v2.sha256)
"$here/push-files-image.sh" "$1" /spinkube-node-installer 0:0 \
  "$installer=/spinkube-node-installer" \
  "$work/containerd-shim-spin-v2=/spinkube/containerd-shim-spin-v2" \
  "$work/containerd-shim-spin-v2.sha256=/spinkube/containerd-shim-spin-v2.sha256"
