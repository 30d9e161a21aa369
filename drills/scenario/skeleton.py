"""`drill init`: a commented scenario to start from, valid as written (a unit test runs the validator on it).

The lists it names in its comments (fault types, budget metrics) are read from the catalogue tables, so the
skeleton never offers a name the validator refuses. The schema modeline points at drills' own JSON Schema,
relative to where the file is written, so an editor checks keys as they are typed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from drills.scenario.fault_families import FAMILIES
from drills.scenario.fault_types import FAULTS
from drills.scenario.metrics import METRICS

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "scenario.schema.json"
DEFAULT_NAME = "my-drill"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def modeline(target: Path) -> str:
    """The yaml-language-server line pointing from `target`'s folder at drills' scenario schema."""
    try:
        ref = os.path.relpath(SCHEMA_FILE, Path(target).resolve().parent)
    except ValueError:   # another drive (Windows): an absolute path still works
        ref = str(SCHEMA_FILE)
    return f"# yaml-language-server: $schema={Path(ref).as_posix()}"


def name_for(target: Path) -> str:
    """The scenario name for a file: its stem when that is a valid name, else DEFAULT_NAME."""
    stem = Path(target).stem
    return stem if _NAME.fullmatch(stem) else DEFAULT_NAME


def _types(family: str) -> str:
    return ", ".join(name for name, spec in FAULTS.items() if spec.family == family)


def _catalogue_comment() -> list[str]:
    lines = ["  # fault types (`drill list faults`, `drill explain TYPE` for a type's params):"]
    lines += [f"  #   {family}: {_types(family)}" for family in FAMILIES]
    return lines


def _metrics_comment() -> list[str]:
    names = ", ".join(METRICS)
    out, line = [], "  # metrics:"
    for word in names.split(" "):
        if len(line) + len(word) + 1 > 110:
            out.append(line)
            line = "  #  "
        line += " " + word
    return out + [line]


_REFERENCE = """\
stack:
  reference:                      # the reference stack drills starts: Patroni + etcd, HAProxy, API replicas
    api_replicas: 3
    async_replication: false      # true: acknowledged is not yet durable on a replica
"""

_ATTACH = """\
stack:
  attach:                         # your own running system: drills starts, stops and removes none of it
    api_url: http://127.0.0.1:8080    # where the load goes; every URL must be 127.0.0.1 or localhost
    compose_project: my-shop      # its containers: label com.docker.compose.project=my-shop; a fault names a
                                  # compose service (one with replicas: `select` picks among them)
    # containers: {api: my-api-1, db-a: my-db-a}   # or name containers one by one (service -> container)
    roles: {db-a: database, db-b: database}       # static roles by service (or a drills.role label on it)
    role_probes:                  # roles that move, asked again at each fault: `target: {role: leader}`
      leader:
        services: [db-a, db-b]
        command: [redis-cli, role]    # run in each of them (docker exec) ...
        match: "^master"              # ... the one whose output matches holds the role
        # http: {db-a: "http://127.0.0.1:8008/primary"}   # or: the service whose URL answers 200 holds it
    ready:                        # recovered after the faults when all of these hold (default: GET
      http: http://127.0.0.1:8080/readyz    # api_url + /readyz answers 200)
      role: leader                #   ... and the role has a holder
      for: 3s                     #   ... for this long in a row
    # patroni_urls: {db-a: "http://127.0.0.1:8008"}   # Patroni: leader / sync_standby / replica without probes
    # toxiproxy_url: http://127.0.0.1:8474           # for link faults (latency, timeout, link_down, ...)
"""

_ATTACH_LOAD = """\
load:
{locustfile_line}# your own, beside this file (`drill init --attach` wrote a starter):
                                  # each request's context={{"op": ..., "key": ...}} names its operation and the
                                  # identity of the write; drills records every request as it completes
  operations: [create_order, list_orders]   # the ops your locustfile records: budgets may name them
  profile: {{type: constant_users, users: 20, spawn_rate: 10}}   # or arrival_rate (rate:), or stages
"""

_ATTACH_AUDIT = """\
audit:                            # did every acknowledged write survive? (Jepsen's set: lost, unexpected, ...)
  writes:
    create_order: {id: key}       # history op -> where each write's identity is (here the context's `key`;
                                  # or response.PATH / request.PATH in the JSON bodies)
  read:                           # read once, after the heal and the recovery wait
    orders:
      http: {url: /orders, items: items, next: next, cursor_param: cursor}   # GET, page by page
      # sql: {dsn: "postgresql://app:${PGPASSWORD}@127.0.0.1:5432/shop", query: "SELECT id FROM orders"}
      fields: {id: id}            # column -> dotted path in each item
  models:
    - {model: set, collection: orders, id: id}    # each acknowledged create_order is there, once
    # - {model: unique, collection: orders, fields: [event, seat]}   # no two rows share these
"""

_REFERENCE_FAULT = """\
  - id: kill-leader
    type: kill
    target: {role: leader}        # resolved when injected: whoever leads at that moment
    at: 20s                       # offset from the start of load
    duration: 15s                 # then healed: the container is started again
"""

_ATTACH_FAULT = """\
  - id: kill-leader
    type: kill
    target: {role: leader}        # a role of role_probes, resolved when injected; or {service: db-b}
    at: 20s                       # offset from the start of load
    duration: 15s                 # then healed: the container is started again
"""

_ATTACH_BUDGETS = """\
budgets:                          # what the run is judged by (the defaults are the reference stack's)
  - {metric: lost, op: create_order, max: 0}                          # no acknowledged write missing
  - {metric: duplicated, op: create_order, max: 0}
  - {metric: longest_outage_s, op: create_order, max: 30}
  - {metric: success_ratio, op: create_order, phase: after_heal, min: 0.98}
"""

# The starter locustfile `drill init --attach` writes beside the scenario (never over an existing file).
ATTACH_LOCUSTFILE = "locustfile.py"
LOCUSTFILE_TEXT = '''\
"""Load for a drill against your own service: Locust user classes, run by `drill run` (docs/attach.md).

drills records every request these users make into the run's history (op, outcome, times). The `context` of a
request tells it more: `op` names the operation (budgets and the audit use that name) and `key` is the identity
of the write, which the audit looks for in the final read. A 2xx is acknowledged, a 4xx (or a 5xx such as 500)
failed, a timeout or 502/503/504 is indeterminate: it may or may not have happened.
"""

import uuid

from locust import HttpUser, between, task


class Shopper(HttpUser):
    wait_time = between(0.05, 0.2)

    @task(5)
    def create_order(self) -> None:
        order_id = uuid.uuid4().hex
        self.client.post("/orders", json={"id": order_id, "item": "book"}, name="create_order",
                         context={"op": "create_order", "key": order_id})

    @task(1)
    def list_orders(self) -> None:
        self.client.get("/orders", name="list_orders", context={"op": "list_orders"})
'''


def _attach_load(locustfile: str) -> list[str]:
    return _ATTACH_LOAD.format(locustfile_line=f"  locustfile: {locustfile} ".ljust(34)).rstrip("\n").split("\n")


def skeleton(target: Path, attach: bool = False, locustfile: str = ATTACH_LOCUSTFILE) -> str:
    """The text of a new scenario file at `target` (reference stack, or `attach` to one's own system, whose load
    is `locustfile` beside it: see LOCUSTFILE_TEXT)."""
    parts = [
        modeline(target),
        "# A drill: which stack, how much load, what breaks when, and what the run is judged by.",
        "# Format: docs/scenario-format.md. Check it: `drill validate FILE`; its plan: `drill run --dry-run FILE`.",
        f"name: {name_for(target)}",
        "description: What this drill shows, in a sentence or two.",
        "tags: [gameday]                   # become pytest markers (`pytest scenarios -m gameday`)",
        "seed: 1                           # fixes load and target choices; leave it out for a fresh one each run",
        "# expect: fail                    # a self-test: the drill must catch a known defect",
        "",
        (_ATTACH if attach else _REFERENCE).rstrip("\n"),
        "",
        "phases: {warmup: 10s, steady: 60s, recovery: 20s}   # faults happen within warmup + steady",
        "",
        *(_attach_load(locustfile) if attach else [
            "load:",
            "  profile: {type: constant_users, users: 20, spawn_rate: 10}   # or arrival_rate (rate:), or stages",
            "  # mix: {purchase: 70, browse: 20, rotate_password: 5, login: 5}"]),
        "",
        "faults:",
        *_catalogue_comment(),
        (_ATTACH_FAULT if attach else _REFERENCE_FAULT).rstrip("\n"),
        "",
        *([_ATTACH_BUDGETS.rstrip("\n"), *_metrics_comment(), "", _ATTACH_AUDIT.rstrip("\n")] if attach else [
            "budgets:                          # leave `budgets` out for the default budgets alone",
            "  - defaults                      # no lost, duplicated or oversold purchase; outages under 30 s; ...",
            *_metrics_comment(),
            "  - {metric: success_ratio, op: purchase, phase: after_heal, min: 0.98}"]),
        "",
        "# abort:                          # stop early when the system is clearly down",
        "#   - {metric: error_ratio, above: 0.95, window: 15s}",
    ]
    return "\n".join(parts) + "\n"
