#!/usr/bin/env bash
# Pushes an image made of local files on an empty base (no Docker, nothing pulled): one layer
# holding each SRC at DEST (owner root, mode kept, mtime 0, so the same files give the same
# digest), with the given entrypoint and user. The registry may be plain HTTP.
#
#   e2e/images/push-files-image.sh REF ENTRYPOINT USER SRC=DEST [SRC=DEST ...]
#   e2e/images/push-files-image.sh 127.0.0.1:5000/pause:3.10 /pause 65535:65535 ./pause=/pause
# Prints the pushed image's digest reference.
set -euo pipefail

[ $# -ge 4 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
ref=$1 entrypoint=$2 user=$3; shift 3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crane="$("$here/build-crane.sh")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 - "$work/layer.tar" "$@" <<'PY'
import os, sys, tarfile
out, pairs = sys.argv[1], sys.argv[2:]
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    dirs = set()
    for pair in pairs:
        src, dest = pair.split("=", 1)
        dest = dest.lstrip("/")
        parts = dest.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                t.addfile(info)
        info = t.gettarinfo(src, arcname=dest)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        with open(src, "rb") as f:
            t.addfile(info, f)
PY
insecure=()
case "$ref" in 127.*|localhost*) insecure=(--insecure) ;; esac
"$crane" append "${insecure[@]}" --oci-empty-base -f "$work/layer.tar" -t "$ref" >/dev/null
"$crane" mutate "${insecure[@]}" --entrypoint "$entrypoint" --user "$user" \
  -t "$ref" "$ref"
