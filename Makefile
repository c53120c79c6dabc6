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

.PHONY: help install build lint fmt test test-rust test-python bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --group dev
	@touch $@

$(VENV)/.built: $(RUST_SRC) pyproject.toml $(VENV)/.deps
	$(BIN)/maturin develop --release --quiet
	@touch $@

install: $(VENV)/.built ## Create .venv, install dependencies, build the extension

build: install ## Alias of install

lint: install ## ruff, ruff format, mypy, stubtest, cargo fmt, clippy
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest sock8._core --allowlist .stubtest-allowlist
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features python -- -D warnings
	@! grep -rn pyo3 rust/src/core || (echo "rust/src/core must not use pyo3" && false)

fmt: install ## Format Python and Rust
	$(BIN)/ruff check --fix $(PY_DIRS)
	$(BIN)/ruff format $(PY_DIRS)
	cargo fmt

test-rust: ## cargo test (the core, without Python)
	cargo test --quiet

test-python: install ## pytest (benchmarks run once, untimed)
	$(BIN)/pytest -q

test: lint test-rust test-python ## Everything CI runs

bench: install ## Benchmarks, timed, with a comparison table
	$(BIN)/pytest benches -q --benchmark-enable --benchmark-columns=median,iqr,ops

clean: ## Remove build products and the virtualenv
	rm -rf $(VENV) target .hypothesis .mypy_cache .ruff_cache
