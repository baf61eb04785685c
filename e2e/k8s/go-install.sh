# Sourced by the build-*.sh scripts of single Go tools: `go_install NAME VERSION PACKAGE` builds
# PACKAGE@VERSION from the Go module proxy into the tools cache (NAME-VERSION/bin/NAME) unless it
# is there, and prints the binary's path.
go_install() {
  local name="$1" version="$2" package="$3"
  local bin="${SPINKUBE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools}/$name-$version/bin"
  if [ -x "$bin/$name" ]; then echo "$bin/$name"; return 0; fi
  # shellcheck source=go-env.sh
  . "$(dirname "${BASH_SOURCE[0]}")/go-env.sh"
  echo "building $name $version" >&2
  local tmp
  tmp="$(mktemp -d)"
  CGO_ENABLED=0 GOBIN="$tmp" go install -ldflags "-s -w" "$package@$version" >&2
  mkdir -p "$bin"
  mv "$tmp/$name" "$bin/$name"
  rm -rf "$tmp"
  echo "$bin/$name"
}
