#!/usr/bin/env bash
# Builds the real Kubernetes control-plane binaries from the Go module proxy and
# caches them by version (see shared/TESTENV.md "Kubernetes"): kube-apiserver
# alone takes 6-13 minutes on 2 cores, so a cached build is reused.
#
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, or
# the binaries named in KUBE_BINS (the node: kubelet kube-proxy); re-running
# builds only the ones missing from the cache.
#
#   e2e/k8s/build-kube.sh            # prints the bin dir on stdout
#   KUBE_VERSION=v1.34.4 e2e/k8s/build-kube.sh
#   KUBE_BINS="kubelet kube-proxy" e2e/k8s/build-kube.sh
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
CACHE="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}/kube-$KUBE_VERSION"
BIN="$CACHE/bin"
read -r -a WANT <<< "${KUBE_BINS:-kube-apiserver kube-controller-manager kube-scheduler kubectl}"

have_all() { for b in "${WANT[@]}"; do [ -x "$BIN/$b" ] || return 1; done; }
if have_all; then echo "$BIN"; exit 0; fi

# shellcheck source=go-env.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-env.sh"
mkdir -p "$BIN" "$CACHE/src"
cd "$CACHE/src"
staging_version="v0.${KUBE_VERSION#v1.}"

# k8s.io/kubernetes replaces its staging modules with local paths; point them
# at the published v0.Y.Z modules instead.
modfile="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
{
  echo "module spinkube.dev/kube-build"
  echo
  echo "go $(sed -n 's/^go \([0-9.]*\).*/\1/p' "$modfile")"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$modfile" \
    | awk -v v="$staging_version" '{ printf "replace %s => %s %s\n", $1, $1, v }'
} > go.mod
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO
GOFLAGS=-mod=mod go mod tidy -e >&2 || true
# Without these the binaries report v0.0.0, which kubectl, helm and
# kubeVersion checks reject.
minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
# kubectl's client version comes from client-go, the servers' from component-base.
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
for b in "${WANT[@]}"; do
  [ -x "$BIN/$b" ] && continue
  echo "building $b $KUBE_VERSION (slow the first time)" >&2
  GOFLAGS=-mod=mod GOEXPERIMENT="${GOEXPERIMENT:-nojsonv2}" go build -ldflags "$ldflags" -o "$BIN/$b" "k8s.io/kubernetes/cmd/$b" >&2
done
echo "$BIN"
