#!/usr/bin/env bash
# Package `spinkube` as the `kube` Spin plugin for a local install:
#
#   cli/spin-plugin/package.sh [OUT_DIR]
#   spin plugins install --file OUT_DIR/kube.json --yes
#   spin kube scaffold --from ghcr.io/me/app:v1
#
# Builds the CLI (release; PROFILE=debug reuses a debug build, BIN=/path/to/spinkube
# skips building), puts it in spin-plugin-kube-<version>-<os>-<arch>.tar.gz as a
# binary named `kube` (Spin runs <plugins dir>/kube/kube, and the binary acts as
# the plugin when its file name is `kube`), and writes OUT_DIR/kube.json: the
# manifest next to this script with one package for this machine, its url a
# file:// URL to the tarball and its sha256 filled in.
# OUT_DIR defaults to <cargo target dir>/spin-plugin.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
template="$here/kube.json"
cargo="${CARGO:-cargo}"
profile="${PROFILE:-release}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
out_dir="${1:-$target_dir/spin-plugin}"

die() { echo "package.sh: $*" >&2; exit 1; }

# A top-level string field of the manifest template.
field() {
    sed -n "s/^  \"$1\": \"\(.*\)\",\{0,1\}$/\1/p" "$template" | head -n 1
}

case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=macos ;;
    *) die "unsupported OS $(uname -s); Spin plugins are packaged for linux and macos here" ;;
esac
case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) die "unsupported architecture $(uname -m); expected x86_64 or aarch64" ;;
esac

version="$(field version)"
[ -n "$version" ] || die "no \"version\" in $template"

if [ -n "${BIN:-}" ]; then
    bin="$BIN"
else
    if [ "$profile" = release ]; then
        (cd "$repo" && "$cargo" build --release -p spinkube-cli)
    else
        (cd "$repo" && "$cargo" build -p spinkube-cli)
    fi
    bin="$target_dir/$profile/spinkube"
fi
[ -x "$bin" ] || die "no spinkube binary at $bin (set BIN=... or PROFILE=debug|release)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$bin" "$stage/kube"
chmod 0755 "$stage/kube"
files=(kube)
if [ -f "$repo/LICENSE" ]; then
    cp "$repo/LICENSE" "$stage/LICENSE"
    files+=(LICENSE)
fi

# The binary must answer as the plugin, with the manifest's version.
got="$("$stage/kube" version --short)" || die "$bin does not run as the kube plugin"
[ "$got" = "$version" ] || die "binary version $got != manifest version $version; update $template"

mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
tarball="$out_dir/spin-plugin-kube-$version-$os-$arch.tar.gz"
tar -C "$stage" -czf "$tarball" "${files[@]}"

if command -v sha256sum >/dev/null 2>&1; then
    sha="$(sha256sum "$tarball" | cut -d' ' -f1)"
else
    sha="$(shasum -a 256 "$tarball" | cut -d' ' -f1)"
fi

cat >"$out_dir/kube.json" <<EOF
{
  "name": "$(field name)",
  "description": "$(field description)",
  "homepage": "$(field homepage)",
  "version": "$version",
  "spinCompatibility": "$(field spinCompatibility)",
  "license": "$(field license)",
  "packages": [
    {
      "os": "$os",
      "arch": "$arch",
      "url": "file://$tarball",
      "sha256": "$sha"
    }
  ]
}
EOF

echo "Packaged $tarball"
echo "Manifest $out_dir/kube.json"
echo "Install:  spin plugins install --file $out_dir/kube.json --yes"
