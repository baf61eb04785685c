#!/usr/bin/env bash
# Builds the spin-operator image without Docker and pushes it: the operator as a static (musl)
# binary, plus the host's CA certificates, on an empty base, run as the chart's non-root user.
#
#   e2e/images/push-operator-image.sh 127.0.0.1:5000/spin-operator-rs:0.1.0
# Needs the x86_64-unknown-linux-musl Rust target and musl-gcc (e2e/cluster/build-tools.sh).
# Prints the pushed image's digest reference.
set -euo pipefail

[ $# -eq 1 ] || { sed -n '2,7p' "$0" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target=x86_64-unknown-linux-musl
target_dir="${CARGO_TARGET_DIR:-$root/target}"
# The same build as push-node-installer-image.sh (one feature set for their shared dependencies).
# ring's C code for musl is compiled with musl-gcc.
CC_x86_64_unknown_linux_musl=musl-gcc cargo build -q --release --locked --target "$target" \
  --manifest-path "$root/Cargo.toml" -p spinkube-operator -p spinkube-node-installer >&2
bin="$target_dir/$target/release/spin-operator"
# Static (-pie) binaries need no shared library: an empty base has none.
if readelf -d "$bin" | grep -q NEEDED; then
  echo "$bin is not statically linked: $(readelf -d "$bin" | grep NEEDED)" >&2
  exit 1
fi
exec "$here/push-files-image.sh" "$1" /spin-operator 65532:65532 \
  "$bin=/spin-operator" /etc/ssl/certs/ca-certificates.crt=/etc/ssl/certs/ca-certificates.crt
