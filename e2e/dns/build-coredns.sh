#!/usr/bin/env bash
# Builds CoreDNS (the cluster DNS Kubernetes ships) from the Go module proxy and caches it by
# version. Prints the binary's path. About 3 minutes on 2 cores, once.
#
#   e2e/dns/build-coredns.sh
set -euo pipefail

COREDNS_VERSION="${COREDNS_VERSION:-v1.14.7}"
BIN="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}/coredns-$COREDNS_VERSION/bin"
if [ -x "$BIN/coredns" ]; then echo "$BIN/coredns"; exit 0; fi

# shellcheck source=../k8s/go-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../k8s/go-env.sh"
echo "building coredns $COREDNS_VERSION" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 GOBIN="$tmp" go install -ldflags "-s -w" \
  "github.com/coredns/coredns@$COREDNS_VERSION" >&2
mkdir -p "$BIN"
mv "$tmp/coredns" "$BIN/coredns"
echo "$BIN/coredns"
