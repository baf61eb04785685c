#!/usr/bin/env bash
# Builds the pause (pod sandbox) image here, with no base image and no Docker: a static pause
# binary as the only layer. Writes an OCI image archive (for `ctr images import`) and prints its
# path; the image is named $PAUSE_IMAGE (default spinkube.local/pause:3.10). Cached by the hash
# of pause.c and this script.
#
#   e2e/pause/build-image.sh               # prints .../pause-<hash>.tar
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGE="${PAUSE_IMAGE:-spinkube.local/pause:3.10}"
TOOLS="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}"
key="$(cat "$here/pause.c" "$here/build-image.sh" | sha256sum | cut -c1-16)-$(echo "$IMAGE" | sha256sum | cut -c1-8)"
out="$TOOLS/pause/pause-$key.tar"
if [ -s "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$TOOLS/pause"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gcc -static -Os -s -o "$work/pause" "$here/pause.c"
python3 - "$work" "$IMAGE" "$out" <<'PY'
import hashlib, io, json, os, sys, tarfile, time
work, image, out = sys.argv[1:]

def blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    path = os.path.join(layout, "blobs", "sha256")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)

layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    info = t.gettarinfo(os.path.join(work, "pause"), arcname="pause")
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755
    with open(os.path.join(work, "pause"), "rb") as f:
        t.addfile(info, f)
layer = layer.getvalue()
layout = os.path.join(work, "layout")
layer_digest, layer_size = blob(layout, layer)
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
    "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
}).encode()
config_digest, config_size = blob(layout, config)
manifest = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}],
}).encode()
manifest_digest, manifest_size = blob(layout, manifest)
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest, "size": manifest_size,
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"io.containerd.image.name": image, "org.opencontainers.image.ref.name": image.rsplit(":", 1)[-1]},
    }]}, f)
with open(os.path.join(layout, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
tmp = out + ".tmp"
with tarfile.open(tmp, "w") as t:
    for name in sorted(os.listdir(layout)):
        t.add(os.path.join(layout, name), arcname=name)
os.replace(tmp, out)
PY
echo "$out"
