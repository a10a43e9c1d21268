# Everything a fresh machine with only Python 3.11+ needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUN  := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test
STAMP_BENCH := $(VENV)/.installed-bench

# Browser tests (tests/browser/) drive Debian's Chromium through Playwright: Playwright's
# own `playwright install` downloads a browser build from a host outside the package
# registries, which developers' machines and CI cannot reach. $TRUSTABLE_CHROMIUM may
# name another Chromium; then nothing is installed here.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends

# axe-core, the accessibility engine the browser tests inject into pages, straight from
# its maintainers (Deque) on the npm registry, pinned, into the ignored .cache/npm.
# Chosen over PyPI's axe-playwright-python, which works offline too but repackages an
# older axe-core (4.12.1 in its 0.1.8) by hand, between its own releases.
AXE_CORE_VERSION := 4.14.1
NPM_PREFIX := .cache/npm
STAMP_AXE := $(NPM_PREFIX)/.installed-axe-core-$(AXE_CORE_VERSION)
# The browser SDKs shops run, for the consent banner's tests (tests/browser/shop/):
# Segment's analytics.js and RudderStack's JavaScript SDK, pinned, from the registry.
SEGMENT_VERSION := 1.84.3
RUDDERSTACK_VERSION := 3.34.1
STAMP_SDKS := $(NPM_PREFIX)/.installed-sdks-$(SEGMENT_VERSION)-$(RUDDERSTACK_VERSION)

.PHONY: demo test bench lint clean chromium citus

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(STAMP_BENCH): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

## make demo: run Trustable on 127.0.0.1:8000 over SQLite in ./.trustable, with demo data
demo: $(STAMP_RUN)
	$(BIN)/trustable demo

## make chromium: Debian's Chromium for the browser tests, unless it is already there
chromium:
	@if [ -z "$$TRUSTABLE_CHROMIUM" ] && ! command -v chromium >/dev/null; then \
		echo "installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -q && $(APT_INSTALL) chromium fonts-liberation; \
	fi

$(STAMP_AXE):
	@command -v npm >/dev/null || { $(SUDO) apt-get update -q && $(APT_INSTALL) npm; }
	npm install --prefix $(NPM_PREFIX) --no-save --no-package-lock --no-audit --no-fund \
		--ignore-scripts --loglevel=error axe-core@$(AXE_CORE_VERSION)
	touch $@

$(STAMP_SDKS): $(STAMP_AXE)
	npm install --prefix $(NPM_PREFIX) --no-save --no-package-lock --no-audit --no-fund \
		--ignore-scripts --loglevel=error axe-core@$(AXE_CORE_VERSION) \
		@segment/analytics-next@$(SEGMENT_VERSION) @rudderstack/analytics-js@$(RUDDERSTACK_VERSION)
	touch $@

## make citus: Citus built into this machine's PostgreSQL 15 for the tests on a cluster,
## with the workplace's tool beside the project (../shared/tools/citus-cluster.sh)
CITUS_TOOL := ../shared/tools/citus-cluster.sh
citus:
	@if [ -f $(CITUS_TOOL) ]; then $(SUDO) bash $(CITUS_TOOL) install; \
	else echo "no $(CITUS_TOOL): the tests on a Citus cluster will be skipped"; fi

## make test: the whole suite (browser tests too), then ruff, mypy (strict), import contracts
# The suite runs in TEST_PROCESSES processes (pytest-xdist), each starting its own
# Citus cluster when its tests need one (tests/citus.py). TEST_PROCESSES=0: in one.
TEST_PROCESSES ?= 2
test: $(STAMP_TEST) chromium $(STAMP_AXE) $(STAMP_SDKS) citus
	$(BIN)/python -m pytest -n $(TEST_PROCESSES)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/lint-imports

## make bench: the measurements of bench/, figures written to bench/RESULTS.md
# One BLAS thread: implicit's ALS asks for it, and the measured server and its
# clients already share the machine's cores.
bench: $(STAMP_BENCH)
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .cache tests/artifacts
