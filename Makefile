# PrimeVault: every command a newcomer needs. Requires only Python 3.11, Node 20 (npm) and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FOUNDRY_PLATFORM := $(shell uname -s | tr A-Z a-z)-$(shell uname -m | sed -e 's/x86_64/amd64/' -e 's/aarch64/arm64/')
# A foundryup install on PATH wins; otherwise the binaries npm installed.
FORGE := $(or $(shell command -v forge 2>/dev/null),$(CURDIR)/node_modules/@foundry-rs/forge-$(FOUNDRY_PLATFORM)/bin/forge)
# Slither gets a virtualenv of its own: it requires web3 7, the keeper web3 8.
SLITHER_VENV := .venv-slither
SLITHER_VERSION := 0.11.6

.PHONY: help setup build web test test-fast test-contracts test-python lint slither demo devnet app gas bench clean screenshots

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: $(VENV)/.installed node_modules/.installed ## Install Python and npm dependencies (idempotent)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# `npm install`, not `npm ci`: npm 11 leaves the other platforms' optional Foundry binaries out of the lock
# file and `npm ci` then refuses it. Versions are pinned exactly in package.json and by the lock file.
node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

$(SLITHER_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/pip install --quiet --upgrade pip
	$(SLITHER_VENV)/bin/pip install --quiet slither-analyzer==$(SLITHER_VERSION)
	touch $@

build: setup ## Compile the contracts and export the ABIs the Python package ships
	$(FORGE) build
	$(BIN)/python scripts/export_artifacts.py

# The web app (web/): type-checked by tsc, bundled by esbuild into keeper/web/dist, which `primevault web` serves.
# Inside the package, so that a wheel built after `make web` carries it (package data). No CDN: everything the page
# loads is in the bundle.
WEB_SOURCES := $(shell find web/src -type f 2>/dev/null) web/index.html web/tsconfig.json
web: keeper/web/dist/index.html ## Build the web app into keeper/web/dist (`primevault web` serves it)

keeper/web/dist/index.html: node_modules/.installed $(WEB_SOURCES)
	node_modules/.bin/tsc -p web
	node_modules/.bin/esbuild web/src/main.tsx --bundle --outdir=keeper/web/dist/assets --entry-names=app --jsx=automatic \
		--jsx-import-source=preact --target=es2022 --minify --sourcemap --log-level=warning
	cp web/index.html $@

test: build test-contracts test-python lint ## Run every test: forge (unit, fuzz, invariant, gas), pytest (the web app in Chromium too), tsc, ruff, mypy, Slither

# For development: seconds, not minutes. No anvil, no Slither, no fuzzing: the Python unit tests (those not marked
# `chain`), ruff and mypy.
test-fast: setup web ## Quick checks while developing: ruff, mypy and the Python unit tests (no chain)
	$(BIN)/ruff check keeper tests/python scripts bench
	$(BIN)/ruff format --check keeper tests/python scripts bench
	$(BIN)/mypy
	$(BIN)/pytest -m "not chain" -q

# `forge build --sizes` fails if a contract exceeds the 24,576-byte limit mainnet and anvil enforce.
test-contracts: build
	@mkdir -p build && $(FORGE) build --sizes > build/sizes.txt 2>&1 || { cat build/sizes.txt; exit 1; }
	@grep -E "^\| (PrimeVault|LiquidationModule|TradingModule|AsyncOrderModule|PrimeVaultLens) " build/sizes.txt
	$(FORGE) test

test-python: build web
	$(BIN)/pytest

lint: setup slither ## Static checks: ruff, mypy, forge fmt, Slither
	$(BIN)/ruff check keeper tests/python scripts bench
	$(BIN)/ruff format --check keeper tests/python scripts bench
	$(BIN)/mypy
	$(FORGE) fmt --check contracts tests/contracts

# Settings in slither.config.json: fails on any medium or high finding. Slither rebuilds through forge after a
# `forge clean`, so it gets its own output directories and leaves out/ to the tests.
slither: node_modules/.installed $(SLITHER_VENV)/.installed ## Slither over contracts/ (fails on medium or high)
	PATH="$(dir $(FORGE)):$$PATH" FOUNDRY_OUT=build/slither/out FOUNDRY_CACHE_PATH=build/slither/cache \
		$(SLITHER_VENV)/bin/slither .

demo: setup ## The main job: local chain, deposits, a price drop, liquidation, report
	$(BIN)/primevault demo

devnet: setup ## A local chain with PrimeVault deployed, until Ctrl-C
	$(BIN)/primevault devnet

app: setup web ## The web app on a fresh devnet with its keeper, at http://127.0.0.1:8000, until Ctrl-C
	$(BIN)/primevault web --devnet

# The browser tests save the screens they reach (tests/python/web/conftest.py); the README shows them.
screenshots: build web ## Regenerate docs/screenshots/ from the web app's browser tests
	PRIMEVAULT_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/python/web -q

# The whole suite, not a subset: forge writes each snapshot group from the entries the run collected, and the
# figures come from several test files (`*Gas.t.sol`, the operator permit's and the portfolio rule's).
gas: build ## Regenerate the gas snapshot snapshots/PrimeVault.json (runs every forge test)
	$(FORGE) test

clean: ## Remove build output (keeps installed dependencies)
	rm -rf out cache build/slither keeper/web/dist

bench: build ## Benchmarks, side by side in one run: writes bench/RESULTS.md (takes a few minutes)
	$(BIN)/python bench/report.py > bench/RESULTS.md
	cat bench/RESULTS.md
