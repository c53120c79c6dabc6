# Every target a developer or CI needs; `make help` lists them. A fresh clone needs only
# python3 (3.11+) and a Rust toolchain: the first target that needs the virtualenv creates it.
.DEFAULT_GOAL := help
SHELL := bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export VIRTUAL_ENV := $(abspath $(VENV))
# PyO3's build script must see the virtualenv's interpreter when clippy checks the bindings.
export PYO3_PYTHON := $(abspath $(BIN)/python)
RUST_SRC := $(shell find rust -name '*.rs') Cargo.toml Cargo.lock
PY_DIRS := python tests benches

.PHONY: help system install build wheel lint fmt test test-rust test-python bench bench-deps demo demo-redis serve fuzz clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --group dev
	@touch $@

$(VENV)/.built: $(RUST_SRC) pyproject.toml $(VENV)/.deps
	@# A stale extension of another ABI tag (a cpython-311 one next to abi3) would shadow the new one.
	rm -f python/sock8/_core.*.so
	$(BIN)/maturin develop --release --quiet
	@touch $@

install: $(VENV)/.built ## Create .venv, install dependencies, build the extension

# The servers and tools some tests run, from Debian's packages: redis-server (the Redis tests start
# their own on a free loopback port), chromium (the browser tests drive it with Playwright; no
# browser is downloaded) and tsc from node-typescript (checks sock8.d.ts). Installed when missing,
# as root or through sudo.
SYSTEM_PACKAGES := redis-server:redis-server chromium:chromium tsc:node-typescript
system: ## Install the Debian packages the tests need, when missing
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
		command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
		echo "installing$$missing"; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

build: install ## Alias of install

wheel: $(VENV)/.deps ## Build the abi3 wheel (CPython 3.11+) into dist/
	$(BIN)/maturin build --release --quiet --out dist

lint: install ## ruff, ruff format, mypy, stubtest, cargo fmt, clippy, tsc (sock8.js, sock8.d.ts)
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest sock8._core --allowlist .stubtest-allowlist
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features python -- -D warnings
	cargo fmt --check --manifest-path benches/loadgen/Cargo.toml
	cargo clippy --quiet --all-targets --manifest-path benches/loadgen/Cargo.toml -- -D warnings
	@! grep -rn pyo3 rust/src/core || (echo "rust/src/core must not use pyo3" && false)
	tsc --noEmit --strict --allowJs --checkJs --target es2022 --module es2022 --lib es2022,dom python/sock8/static/sock8.js
	tsc --noEmit --strict --target es2022 --module es2022 --moduleResolution node --lib es2022,dom tests/browser/js/usage.ts

fmt: install ## Format Python and Rust
	$(BIN)/ruff check --fix $(PY_DIRS)
	$(BIN)/ruff format $(PY_DIRS)
	cargo fmt

test-rust: ## cargo test (the core, without Python)
	cargo test --quiet

test-python: system install ## pytest (benchmarks run once, untimed)
	$(BIN)/pytest -q

test: system lint test-rust test-python ## Everything CI runs

demo: install ## The demo: app + gateway in one process, scripted clients, a checked transcript
	$(BIN)/python -m sock8.demo

demo-redis: system install ## The demo across two gateway processes sharing a private redis-server
	$(BIN)/python -m sock8.demo --redis

serve: install ## Serve the demo app at http://127.0.0.1:8000 for manual use (Ctrl-C stops)
	$(BIN)/python -m sock8.demo serve

# `make bench` installs what it compares with on demand: the `bench` dependency group, then two
# peers that each get their own directory (.venv/peers/<name>): jwt (GehirnInc) shares the import
# name `jwt` with PyJWT, and pyjwt-rs has no CPython 3.11 wheel, so pip builds it from source
# (crates.io, a few minutes, once; pip caches the wheel). A peer that fails to install leaves the
# reason in .venv/peers/<name>.failed, the table says so, and the rest still runs. To retry:
# rm -rf .venv/peers. BENCH_ARGS go to benches/compare.py (e.g. BENCH_ARGS=--quick).
PEERS := $(VENV)/peers
BENCH_ARGS ?=
GEHIRN_JWT := jwt==1.4.0
PYJWT_RS := pyjwt-rs==1.2.2

$(VENV)/.bench-deps: pyproject.toml $(VENV)/.deps
	$(BIN)/python -m pip install --quiet --group bench
	@touch $@

# $(call peer,name,requirement): pip install --target, recording why when it fails.
define peer
	@mkdir -p $(PEERS)
	@rm -rf $(PEERS)/$(1) $(PEERS)/$(1).failed
	@echo "installing $(2) into $(PEERS)/$(1)"
	@$(BIN)/python -m pip install --quiet --no-deps --target $(PEERS)/$(1) '$(2)' > $(PEERS)/$(1).log 2>&1 \
		|| { rm -rf $(PEERS)/$(1); \
		     { echo "$(2) could not be installed (pip: $$(grep -m1 -iE 'error' $(PEERS)/$(1).log | cut -c1-160))"; \
		       cat $(PEERS)/$(1).log; } > $(PEERS)/$(1).failed; \
		     echo "$(2) could not be installed: see $(PEERS)/$(1).failed"; }
	@touch $@
endef

$(PEERS)/.gehirn: | $(VENV)/.bench-deps
	$(call peer,gehirn,$(GEHIRN_JWT))

$(PEERS)/.pyjwt-rs: | $(VENV)/.bench-deps
	$(call peer,pyjwt-rs,$(PYJWT_RS))

bench-deps: $(VENV)/.bench-deps $(PEERS)/.gehirn $(PEERS)/.pyjwt-rs

bench: system install bench-deps ## Benchmarks, timed: token/grant table with ratios, the Rust core, gateway load (in memory and on Redis)
	$(BIN)/python benches/compare.py $(BENCH_ARGS)
	cargo bench --quiet --bench core
	cargo build --release --quiet --manifest-path benches/loadgen/Cargo.toml
	$(BIN)/python benches/gateway_load.py
	$(BIN)/python benches/redis_load.py

# Fuzzing is bounded by time, not part of `make test`: FUZZ_SECONDS per target (make fuzz
# FUZZ_SECONDS=600). cargo-fuzz passes nightly-only flags (-Zsanitizer=address); RUSTC_BOOTSTRAP=1
# lets the stable toolchain accept them. A crash leaves its input in fuzz/artifacts/<target>/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := verify_token parse_channel template_render secret_check json_value decode_token

fuzz: ## cargo fuzz every target for FUZZ_SECONDS (60) each, seeded from tests/vectors
	@command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
	$(PYTHON) fuzz/seed.py
	@for target in $(FUZZ_TARGETS); do \
		echo "== $$target: $(FUZZ_SECONDS)s"; \
		RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz $$target -- \
			-max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=5 -print_final_stats=1 \
			|| exit 1; \
	done

clean: ## Remove build products and the virtualenv
	rm -rf $(VENV) target benches/loadgen/target dist .hypothesis .mypy_cache .ruff_cache
