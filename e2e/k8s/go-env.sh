# Sourced by the build-*.sh scripts: finds the Go toolchain (PATH, else the usual /usr/local/go) or
# stops with what to do. Go 1.24+ builds Kubernetes v1.34, kwok and helm v3.22.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
  PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null; then
  echo "Go is needed to build the Kubernetes test binaries and helm, and none was found:" \
    "install Go 1.24 or newer (or put it on PATH), then run again" >&2
  exit 1
fi
