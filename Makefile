# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up themselves.
SHELL := /bin/bash
VENV  := .venv
DRILL := $(VENV)/bin/drill
PYTEST_ARGS ?=

.PHONY: setup engine venv images chromium demo test unit integration bench clean

setup: engine venv images          ## Docker engine, .venv with `drill`, images (idempotent)

engine:
	@scripts/ensure-docker.sh

venv:
	@scripts/setup-venv.sh

images: engine venv
	@$(DRILL) images build

chromium:                          ## headless Chromium for the report's browser test (Debian, as root)
	@scripts/ensure-chromium.sh

demo: setup                        ## the headline drill
	$(DRILL) demo

test: setup chromium               ## the whole suite: unit tests, then real drills against real containers
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests

unit: venv                         ## fast tests, no Docker
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/unit

integration: setup chromium
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/integration

bench: setup                       ## benchmarks: print numbers, assert nothing
	$(VENV)/bin/python -m bench

clean:                             ## remove every labelled container, network and volume
	$(DRILL) clean
