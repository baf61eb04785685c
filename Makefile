# SpinKube in Rust — see README.md.
SHELL := /bin/bash
CARGO ?= cargo
LISTEN ?= 127.0.0.1:3000
RUN_APP ?= examples/python-http
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)

.PHONY: all build tools examples run test lint unit e2e e2e-shim shim-tools cluster-tools e2e-cluster cluster cluster-down images bench clean

all: build

build:
	$(CARGO) build --workspace

tools:
	bash e2e/install-tools.sh

examples: tools
	bash examples/build.sh

# Build everything and serve an example app on $(LISTEN).
run: examples
	$(CARGO) build -p spinkube-cli
	$(CARGO) run -q -p spinkube-cli -- up -f $(RUN_APP) --listen $(LISTEN)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace --lib --bins

# End-to-end: real guests built by examples/build.sh, served by `spinkube up`.
e2e: examples
	$(CARGO) test -p spinkube-cli --test '*'

# Node tools for the shim suite: containerd 2.x, ctr, crictl (built with Go, cached by version),
# runc and CNI plugins (Debian).
shim-tools:
	bash e2e/containerd/build-tools.sh >/dev/null

# The containerd shim on a real containerd: ctr and CRI (crictl) paths, Redis, faults.
e2e-shim: examples shim-tools
	$(CARGO) build --workspace --bins
	$(CARGO) test -p spinkube-shim

# Node tools for a one-node cluster: kubelet, kube-proxy, CoreDNS, crane, helm, musl target,
# iptables.
cluster-tools: shim-tools
	bash e2e/cluster/build-tools.sh

# The product on a real one-node cluster: chart, operator pod from our image, Spin apps via the shim.
e2e-cluster: examples cluster-tools
	$(CARGO) build --workspace --bins
	$(CARGO) test -p spinkube-e2e -- --nocapture

CLUSTER_DIR ?= /tmp/spinkube-cluster

# A one-node cluster on this machine with the chart and an example app (no Docker, no k3d).
cluster: examples cluster-tools
	$(CARGO) build --workspace --bins
	$(TARGET_DIR)/debug/spinkube-cluster up $(CLUSTER_DIR)

cluster-down:
	$(TARGET_DIR)/debug/spinkube-cluster down $(CLUSTER_DIR)

# Everything: lint, unit and integration tests on real Redis, registry, containerd and API
# server, then the cluster suite on a real node (it prints its request counts, hence --nocapture).
test: examples cluster-tools lint
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --exclude spinkube-e2e
	$(CARGO) test -p spinkube-e2e -- --nocapture

IMAGE_REGISTRY ?= 127.0.0.1:5000
IMAGE_TAG ?= 0.1.0

# The chart's two images, built without Docker and pushed to $(IMAGE_REGISTRY): the operator and the
# node installer with the static (musl) shim.
images: cluster-tools
	bash e2e/images/push-operator-image.sh $(IMAGE_REGISTRY)/spin-operator-rs:$(IMAGE_TAG)
	bash e2e/images/push-node-installer-image.sh $(IMAGE_REGISTRY)/spinkube-node-installer-rs:$(IMAGE_TAG)

bench: examples cluster-tools
	$(CARGO) build --release -p spinkube-cli -p spinkube-operator -p spinkube-shim -p spinkube-bench
	$(TARGET_DIR)/release/spinkube-bench

clean:
	$(CARGO) clean
