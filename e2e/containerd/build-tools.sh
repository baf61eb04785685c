#!/usr/bin/env bash
# Builds the node-side tools the shim suite needs from the Go module proxy and caches them by
# version (see shared/TESTENV.md "containerd"): containerd 2.x with ctr and the runc shim,
# and crictl. Debian's containerd 1.6 cannot unpack images with wasm layers, so it is not used.
# Debian packages cover the rest (runc, CNI plugins, iptables); they are installed when missing.
#
#   e2e/containerd/build-tools.sh        # prints the bin dir on stdout
#   CONTAINERD_VERSION=v2.2.9 CRICTL_VERSION=v1.34.0 e2e/containerd/build-tools.sh
#
# Cold on 2 cores: about 4 minutes; warm: instant. Concurrent runs wait on a lock.
set -euo pipefail

CONTAINERD_VERSION="${CONTAINERD_VERSION:-v2.2.9}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.34.0}"
TOOLS="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}"
CACHE="$TOOLS/containerd-$CONTAINERD_VERSION-crictl-$CRICTL_VERSION"
BIN="$CACHE/bin"
WANT=(containerd ctr containerd-shim-runc-v2 crictl)

mkdir -p "$TOOLS"
exec 9>"$TOOLS/.containerd-build.lock"
flock 9

# Debian packages: runc for ordinary containers, CNI plugins for pod networking.
pkgs=()
command -v runc >/dev/null || pkgs+=(runc)
[ -x /usr/lib/cni/bridge ] || pkgs+=(containernetworking-plugins)
command -v iptables >/dev/null || pkgs+=(iptables)
if [ "${#pkgs[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "need root to apt-get install ${pkgs[*]}" >&2; exit 1; }
  echo "apt-get install ${pkgs[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${pkgs[@]}" >&2 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=600 >&2 &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${pkgs[@]}" >&2; }
fi

have_all() { for b in "${WANT[@]}"; do [ -x "$BIN/$b" ] || return 1; done; }
if have_all; then echo "$BIN"; exit 0; fi

# shellcheck source=../k8s/go-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../k8s/go-env.sh"
mkdir -p "$BIN"
echo "building containerd $CONTAINERD_VERSION and crictl $CRICTL_VERSION (slow the first time)" >&2
tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# Static, cgo-free builds: no btrfs/devmapper snapshotters (overlayfs and native suffice here).
export CGO_ENABLED=0
tags="no_btrfs no_devmapper no_zfs no_aufs"
ldflags="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
GOBIN="$tmp" go install -trimpath -tags "$tags" -ldflags "$ldflags" \
  "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" >&2
GOBIN="$tmp" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
  "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION" >&2
for b in "${WANT[@]}"; do mv "$tmp/$b" "$BIN/$b"; done
echo "$BIN"
