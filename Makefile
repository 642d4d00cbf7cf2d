# slotline: every set-up step a fresh machine needs is behind these targets.
#   make demo   installs what is missing, builds, runs the demo against local Redis topologies
#   make test   installs what is missing, then fmt, clippy, the whole test suite and the fuzzers
SHELL := /bin/bash
CARGO ?= cargo
FUZZ_SECONDS ?= 120
CI_FUZZ_SECONDS ?= 30
TOPOLOGY ?= standalone

.PHONY: deps rust-deps fuzz-deps demo test check lint unit fuzz fuzz-ci bench bench-durability bench-peers chaos redis-up clean

## Debian's Redis packages (server, sentinel, cli/benchmark), nutcracker (twemproxy, which
## the sharded-sentinel placement is checked against), nftables and iproute2 (partitions in
## network namespaces), tmux (the prompt driven as a person would) and ca-certificates,
## only when missing.
deps: rust-deps
	@if command -v redis-server >/dev/null && command -v redis-sentinel >/dev/null && command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null && { command -v nutcracker >/dev/null || [ -x /usr/sbin/nutcracker ]; } && { command -v nft >/dev/null || [ -x /usr/sbin/nft ]; } && { command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ]; } && command -v tmux >/dev/null && command -v script >/dev/null; then \
	  echo "deps: redis-server, redis-sentinel, redis-cli, redis-benchmark, nutcracker, nft, ip, tmux, script present"; \
	else \
	  if [ "$$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then \
	    echo "deps: Redis or nutcracker is missing and I am not root: install redis-server redis-sentinel redis-tools nutcracker nftables iproute2 tmux bsdutils yourself" >&2; exit 1; fi; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "deps: installing Debian's redis-server redis-sentinel redis-tools nutcracker nftables iproute2 tmux bsdutils"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server redis-sentinel redis-tools nutcracker nftables iproute2 tmux bsdutils >/dev/null \
	    || { echo "deps: apt-get could not install Redis and nutcracker" >&2; exit 1; }; \
	fi
	@# The platform's trusted roots, which TLS connections verify against by default.
	@if [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "deps: installing Debian's ca-certificates"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq ca-certificates >/dev/null \
	    || { echo "deps: apt-get could not install ca-certificates" >&2; exit 1; }; \
	fi

## rustfmt and clippy, when the toolchain lacks them.
rust-deps:
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy

## cargo-fuzz, only when missing.
fuzz-deps:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

## The chaos soak at length (CHAOS_SECONDS, default 300; `make test` runs it for 60 s):
## faults injected under load, a checker over every acknowledged write; its figures go
## into RELIABILITY.md.
CHAOS_SECONDS ?= 300
chaos: deps
	SLOTLINE_CHAOS_SECS=$(CHAOS_SECONDS) SLOTLINE_CHAOS_REPORT=$(CURDIR)/target/chaos-report.md \
	  $(CARGO) test -q -p slotline-e2e --test chaos -- --nocapture
	python3 scripts/splice.py RELIABILITY.md chaos $(CURDIR)/target/chaos-report.md \
	  "make chaos (CHAOS_SECONDS=$(CHAOS_SECONDS)), $$(date -u +%Y-%m-%d)"

## Start one topology and keep it up until Ctrl-C: make redis-up TOPOLOGY=cluster
redis-up: deps
	$(CARGO) run -q -p slotline-testbed -- up $(TOPOLOGY)

demo: deps
	$(CARGO) build -q --release --examples -p slotline
	bash scripts/demo.sh

## What CI runs: formatting, lints, every test against real Redis, and each fuzzer for a while.
test: deps lint unit fuzz-ci

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace -q
	@# slotline-command stays without I/O: no socket, TLS or runtime crate beneath it.
	@! $(CARGO) tree -p slotline-command -e normal --prefix none \
		| grep -E '^(tokio|tokio-util|mio|socket2|rustls|tokio-rustls|async-std|smol) ' \
		|| { echo "slotline-command depends on an I/O crate (above)"; exit 1; }

## Every test, then the end-to-end suite again over RESP3 (the test bed's URLs ask for
## protocol=3; the chaos soak runs once, over RESP2).
unit:
	$(CARGO) test --workspace
	SLOTLINE_TEST_PROTOCOL=3 $(CARGO) test -p slotline-e2e -- --skip chaos_soak

fuzz-ci: fuzz-deps
	bash fuzz/run.sh $(CI_FUZZ_SECONDS)

fuzz: fuzz-deps
	bash fuzz/run.sh $(FUZZ_SECONDS)

## slotline bench beside redis-benchmark, one server and a cluster; writes BENCHMARKS.md's tables.
bench: deps
	bash scripts/bench.sh

## The cost of durability=replicas:1: SET with it against plain SET, a master and one replica.
bench-durability: deps
	bash scripts/bench_durability.sh

## slotline beside redis-rs and fred in one process, every runtime flavour, quiet and beside a
## busy process (benches/peers, outside the workspace: the one place the redis and fred crates
## appear); writes BENCHMARKS.md's peer tables. Its system-call counts read tracefs.
bench-peers: deps
	@mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || echo "bench-peers: tracefs not mounted (not root?): no system-call counts"
	$(CARGO) run -q --release --manifest-path benches/peers/Cargo.toml -- --write BENCHMARKS.md $(PEERS_ARGS)

clean:
	$(CARGO) clean
