#!/usr/bin/env bash
# Builds helm (v3) from the Go module proxy and caches it by version, like
# build-kube.sh does for the control plane. Used by operator/tests/chart.rs
# (`helm lint`, `helm template`) and by config/generate.sh.
#
#   e2e/k8s/build-helm.sh              # prints the helm binary path on stdout
#   HELM_VERSION=v3.22.0 e2e/k8s/build-helm.sh
#
# The first build takes about 3 minutes on 2 cores (mostly downloading and
# compiling the Kubernetes client libraries); afterwards it returns at once.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}/helm-$HELM_VERSION"
BIN="$CACHE/bin"
HELM="$BIN/helm"

if [ -x "$HELM" ]; then echo "$HELM"; exit 0; fi

# shellcheck source=go-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-env.sh"
mkdir -p "$BIN"
echo "building helm $HELM_VERSION (slow the first time)" >&2

# A plain `go install` leaves helm reporting version "v3.NN" and, worse,
# assuming Kubernetes v1.20 for `helm template` / `helm lint` (so charts with a
# newer kubeVersion fail to render). Set what helm's Makefile sets: its own
# version and the Kubernetes version of the client-go it is built with.
modfile="$(go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
client_go="$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$modfile" | head -n1)"
if [ -z "$client_go" ]; then
  echo "cannot find the k8s.io/client-go version in $modfile" >&2
  exit 1
fi
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  ldflags="$ldflags -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$client_go"
done

# Build into a temporary GOBIN and move the binary in place only when it is
# complete, so an interrupted build never leaves a half-written cached helm.
tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
mv "$tmp/helm" "$HELM"
echo "$HELM"
