"""The drills plugin for Locust, loaded before every locustfile: `locust -f .../locust/plugin.py,<locustfile>`.

It defines no users and no shape. Its init listener wires this process's `LoadRun` onto Locust's
Environment (drills.load.locust.loadrun): the history recorder on `events.request`, the per-second stats,
the arrival-rate gate, the shape of the scenario's profile and the graceful stop. A user's own locustfile
needs nothing from drills to be recorded; see docs/load.md for the optional `context` keys.

Locust imports a `-f` file by path under its bare file name (here `plugin`), so this file holds nothing
that other modules import: the run's code lives in loadrun.py, which this file and the built-in workload
import under its package name (one module, one `LoadRun` class). `LoadRun.wire` is idempotent, so the
run is wired once whichever init listener fires first.
"""

from __future__ import annotations

from typing import Any

from locust import events
from locust.env import Environment

from drills.load.locust.loadrun import LoadRun


@events.init.add_listener
def _(environment: Environment, **_kw: Any) -> None:
    LoadRun.wire(environment)
