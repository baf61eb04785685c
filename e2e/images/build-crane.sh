#!/usr/bin/env bash
# Builds crane (go-containerregistry's daemonless image tool) from the Go module proxy and caches it
# by version. Prints the binary's path.
#
#   e2e/images/build-crane.sh
set -euo pipefail
# shellcheck source=../k8s/go-install.sh
. "$(dirname "${BASH_SOURCE[0]}")/../k8s/go-install.sh"
go_install crane "${CRANE_VERSION:-v0.22.1}" github.com/google/go-containerregistry/cmd/crane
