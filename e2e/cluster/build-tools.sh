#!/usr/bin/env bash
# Everything a one-node cluster needs beyond the control plane (e2e/k8s/install.sh) and the shim
# suite's containerd (e2e/containerd/build-tools.sh): kubelet and kube-proxy (built from the same
# Kubernetes module as the control plane), crane for images, helm, the musl Rust target and
# musl-gcc for the operator and node installer images (libseccomp-dev for the static shim), iptables and conntrack for kube-proxy, a static busybox for
# client pods, CoreDNS for Service names. Cached by version;
# a second run returns at once.
#
#   e2e/cluster/build-tools.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
e2e="$(dirname "$here")"
log() { echo "==> $*" >&2; }

missing=()
for p in musl-tools libseccomp-dev iptables conntrack busybox-static; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q -o DPkg::Lock::Timeout=600 >&2
  apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >&2
fi
if ! rustup target list --installed | grep -qx x86_64-unknown-linux-musl; then
  log "rustup target add x86_64-unknown-linux-musl"
  rustup target add x86_64-unknown-linux-musl >&2
fi

bash "$e2e/k8s/install.sh" >&2
KUBE_BINS="kubelet kube-proxy" bash "$e2e/k8s/build-kube.sh" >/dev/null
bash "$e2e/containerd/build-tools.sh" >/dev/null
bash "$e2e/k8s/build-helm.sh" >/dev/null
bash "$e2e/images/build-crane.sh" >/dev/null
bash "$e2e/dns/build-coredns.sh" >/dev/null
