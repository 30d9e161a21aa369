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
  attach:                         # your own running containers; every URL is on loopback
    api_url: http://127.0.0.1:8080
    containers: {api1: my-api-1, db1: my-db-1}   # service name -> container name (faults act on these only)
    roles: {api1: api}            # static roles: postgres, api, lb, etcd, proxy
    # patroni_urls: {db1: "http://127.0.0.1:8008"}   # to target leader / sync_standby / replica
    # toxiproxy_url: http://127.0.0.1:8474           # for link faults (latency, timeout, link_down, ...)
"""

_REFERENCE_FAULT = """\
  - id: kill-leader
    type: kill
    target: {role: leader}        # resolved when injected: whoever leads at that moment
    at: 20s                       # offset from the start of load
    duration: 15s                 # then healed: the container is started again
"""

_ATTACH_FAULT = """\
  - id: kill-api
    type: kill
    target: {service: api1}       # a key of stack.attach.containers
    at: 20s                       # offset from the start of load
    duration: 15s                 # then healed: the container is started again
"""


def skeleton(target: Path, attach: bool = False) -> str:
    """The text of a new scenario file at `target` (reference stack, or `attach` to one's own containers)."""
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
        "load:",
        "  profile: {type: constant_users, users: 20, spawn_rate: 10}   # or arrival_rate (rate:), or stages",
        "  # mix: {purchase: 70, browse: 20, rotate_password: 5, login: 5}",
        "",
        "faults:",
        *_catalogue_comment(),
        (_ATTACH_FAULT if attach else _REFERENCE_FAULT).rstrip("\n"),
        "",
        "budgets:                          # leave `budgets` out for the default budgets alone",
        "  - defaults                      # no lost, duplicated or oversold purchase; outages under 30 s; ...",
        *_metrics_comment(),
        "  - {metric: success_ratio, op: purchase, phase: after_heal, min: 0.98}",
        "",
        "# abort:                          # stop early when the system is clearly down",
        "#   - {metric: error_ratio, above: 0.95, window: 15s}",
    ]
    return "\n".join(parts) + "\n"
