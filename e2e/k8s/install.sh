#!/usr/bin/env bash
# Ensures every binary the test control plane (crate spinkube-testenv) needs,
# building or installing what is missing, and prints them as KEY=path lines:
#
#   SPINKUBE_KUBE_BIN=~/.cache/spinkube/tools/kube-v1.34.4/bin   (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)
#   SPINKUBE_ETCD=/usr/bin/etcd
#   SPINKUBE_KWOK=~/.cache/spinkube/tools/kwok-v0.8.0/bin/kwok
#
# The same variables, set in the environment, override where spinkube-testenv
# looks. Usage: `eval "$(e2e/k8s/install.sh)"` or just run it once to fill the
# cache. Progress goes to stderr. Cold on 2 cores: about 9 minutes (mostly
# kube-apiserver); warm: instant. Concurrent runs wait on a lock.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}"
mkdir -p "$TOOLS"
exec 9>"$TOOLS/.k8s-install.lock"
flock 9

if [ -n "${SPINKUBE_KUBE_BIN:-}" ]; then kube_bin="$SPINKUBE_KUBE_BIN"; else kube_bin="$("$here/build-kube.sh")"; fi
etcd="$("$here/install-etcd.sh")"
if [ -n "${SPINKUBE_KWOK:-}" ] && [ -x "$SPINKUBE_KWOK" ]; then kwok="$SPINKUBE_KWOK"; else kwok="$("$here/build-kwok.sh")"; fi

echo "SPINKUBE_KUBE_BIN=$kube_bin"
echo "SPINKUBE_ETCD=$etcd"
echo "SPINKUBE_KWOK=$kwok"
