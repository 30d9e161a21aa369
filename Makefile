# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up themselves.
SHELL := /bin/bash
VENV  := .venv
DRILL := $(VENV)/bin/drill
PYTEST_ARGS ?=

.PHONY: setup engine venv images chromium pushgateway clojure constraints demo test lint gameday unit integration bench clean example

setup: engine venv images          ## Docker engine, .venv with `drill`, images (idempotent)

engine:
	@scripts/ensure-docker.sh

venv:
	@scripts/setup-venv.sh

images: engine venv
	@$(DRILL) images build

chromium:                          ## headless Chromium for the report's browser test (Debian, as root)
	@scripts/ensure-chromium.sh

clojure:                           ## Java + Debian's Clojure for the Jepsen-export test (reads EDN like elle-cli)
	@scripts/ensure-clojure.sh

pushgateway:                       ## Prometheus Pushgateway binary for the metrics integration test (Debian, as root)
	@scripts/ensure-pushgateway.sh

constraints: venv                  ## pin this .venv's versions in constraints.txt (setup installs them)
	$(DRILL) constraints > constraints.txt.tmp && mv constraints.txt.tmp constraints.txt

demo: setup                        ## the headline drill
	$(DRILL) demo

test: setup chromium pushgateway clojure ## the whole suite: unit + integration tests, then the smoke drills
	$(VENV)/bin/pytest $(PYTEST_ARGS) -m "not gameday" tests
	$(VENV)/bin/pytest $(PYTEST_ARGS) scenarios -m smoke --junitxml=reports/smoke-junit.xml

lint: venv                         ## ruff (E, F, W, I, B, UP at 120 columns) and mypy; config in pyproject.toml
	$(VENV)/bin/ruff check drills harness bench tests
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m drills.checks.regenerate   # schemas and docs derived from the registries are current

gameday: setup                     ## every drill in scenarios/ (the weekly game day)
	$(VENV)/bin/pytest $(PYTEST_ARGS) scenarios --junitxml=reports/gameday-junit.xml
	$(VENV)/bin/pytest $(PYTEST_ARGS) -m gameday tests/integration

unit: venv                         ## fast tests, no Docker
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/unit

integration: setup chromium pushgateway clojure
	$(VENV)/bin/pytest $(PYTEST_ARGS) tests/integration

example: images                    ## examples/redis-orders: up, each drill (must end as its scenario expects), down
	@examples/redis-orders/example.sh drills

bench: setup                       ## benchmarks: print numbers, assert nothing
	$(VENV)/bin/python -m bench          # image build, stack up, failover, purchases/s
	$(VENV)/bin/python -m bench.faults   # fault timing precision, SIGINT to healed
	$(VENV)/bin/python -m bench.audit    # 1M-operation audit
	$(VENV)/bin/python -m bench.soak     # 30-minute drill: memory over time, run-dir size, checks time, report size
	$(VENV)/bin/python -m bench.load     # generator overhead, highest purchase rate
	$(VENV)/bin/python -m bench.backup   # backup and restore time against database size (RTO vs data)
	$(VENV)/bin/python -m bench.alerts   # time to fire/resolve over 5 leader kills, monitoring's cost
	$(VENV)/bin/python -m bench.zero_rpo # purchases with and without the synchronous WAL stream; restore with it
	$(VENV)/bin/python -m bench.zones    # active LB kill: client-observed outage; leader-zone power loss vs leader kill

clean:                             ## heal and remove what dead drills left (`drill clean --all`: also unrecorded stacks)
	$(DRILL) clean
