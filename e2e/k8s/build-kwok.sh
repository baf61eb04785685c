#!/usr/bin/env bash
# Builds kwok (fake nodes/kubelets: Pods become Running without a container
# runtime) with Go from the module proxy and caches it by version in
# ~/.cache/spinkube/tools/kwok-<version>/bin. Prints the binary's path.
#
#   e2e/k8s/build-kwok.sh
#   KWOK_VERSION=v0.8.0 e2e/k8s/build-kwok.sh
# v0.8.0 needs Go >= 1.26.
set -euo pipefail

KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
BIN="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}/kwok-$KWOK_VERSION/bin"

if [ -x "$BIN/kwok" ]; then echo "$BIN/kwok"; exit 0; fi
# shellcheck source=go-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-env.sh"
mkdir -p "$BIN"
echo "building kwok $KWOK_VERSION (about a minute the first time)" >&2
GOBIN="$BIN" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" >&2
echo "$BIN/kwok"
