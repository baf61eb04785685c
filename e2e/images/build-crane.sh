#!/usr/bin/env bash
# Builds crane (go-containerregistry's daemonless image tool) from the Go module proxy and caches it
# by version. Prints the binary's path.
#
#   e2e/images/build-crane.sh
set -euo pipefail

CRANE_VERSION="${CRANE_VERSION:-v0.22.1}"
BIN="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}/crane-$CRANE_VERSION/bin"
if [ -x "$BIN/crane" ]; then echo "$BIN/crane"; exit 0; fi

# shellcheck source=../k8s/go-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/../k8s/go-env.sh"
echo "building crane $CRANE_VERSION" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 GOBIN="$tmp" go install -ldflags "-s -w" \
  "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION" >&2
mkdir -p "$BIN"
mv "$tmp/crane" "$BIN/crane"
echo "$BIN/crane"
