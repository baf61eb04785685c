# SpinKube in Rust — see README.md.
SHELL := /bin/bash
CARGO ?= cargo
LISTEN ?= 127.0.0.1:3000
RUN_APP ?= examples/python-http
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)

.PHONY: all build tools examples run test lint unit e2e bench clean

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

test: examples lint
	$(CARGO) test --workspace

bench: examples
	$(CARGO) build --release -p spinkube-cli -p spinkube-operator -p spinkube-bench
	$(TARGET_DIR)/release/spinkube-bench

clean:
	$(CARGO) clean
