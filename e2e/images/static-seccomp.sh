#!/usr/bin/env bash
# A libseccomp.a the musl build of the shim can link statically (libcontainer needs libseccomp):
# Debian's static library (libseccomp-dev) plus musl-compat/fortify.c for the one glibc-only
# symbol it calls. Cached by the library's version; prints the directory to give the build as
# LIBSECCOMP_LIB_PATH (with LIBSECCOMP_LINK_TYPE=static).
#
#   e2e/images/static-seccomp.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lib=/usr/lib/x86_64-linux-gnu/libseccomp.a
if [ ! -f "$lib" ]; then
  echo "$lib is missing: apt-get install libseccomp-dev (e2e/cluster/build-tools.sh does)" >&2
  exit 1
fi
version="$(dpkg-query -W -f='${Version}' libseccomp-dev)"
sum="$(sha256sum "$here/musl-compat/fortify.c" | cut -c1-12)"
out="$HOME/.cache/spinkube/tools/libseccomp-musl-$version-$sum"
if [ ! -f "$out/libseccomp.a" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  cp "$lib" "$tmp/libseccomp.a"
  musl-gcc -O2 -fPIC -c "$here/musl-compat/fortify.c" -o "$tmp/fortify-compat.o"
  ar rs "$tmp/libseccomp.a" "$tmp/fortify-compat.o" 2>/dev/null
  mkdir -p "$(dirname "$out")"
  rm -rf "$out"
  mv "$tmp" "$out"
  trap - EXIT
fi
echo "$out"
