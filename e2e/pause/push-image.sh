#!/usr/bin/env bash
# Builds the pause (pod sandbox) binary statically and pushes it as an image on an empty base.
#
#   e2e/pause/push-image.sh 127.0.0.1:5000/pause:3.10
# Prints the pushed image's digest reference.
set -euo pipefail

[ $# -eq 1 ] || { sed -n '2,5p' "$0" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gcc -static -Os -s -o "$work/pause" "$here/pause.c"
"$here/../images/push-files-image.sh" "$1" /pause 65535:65535 "$work/pause=/pause"
