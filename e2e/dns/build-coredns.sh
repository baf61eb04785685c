#!/usr/bin/env bash
# Builds CoreDNS (the cluster DNS Kubernetes ships) from the Go module proxy and caches it by
# version. Prints the binary's path. About 3 minutes on 2 cores, once.
#
#   e2e/dns/build-coredns.sh
set -euo pipefail
# shellcheck source=../k8s/go-install.sh
. "$(dirname "${BASH_SOURCE[0]}")/../k8s/go-install.sh"
go_install coredns "${COREDNS_VERSION:-v1.14.7}" github.com/coredns/coredns
