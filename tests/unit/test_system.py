"""The system under test behind one interface: the runner never asks which kind it has."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest

from drills.errors import InfrastructureError
from drills.platform.system import AttachedSystem, ReferenceSystem, options_for, system_for
from drills.scenario.model import AttachedStack, ReferenceStack

RUNNER = Path(__file__).resolve().parents[2] / "drills" / "runner" / "drill.py"


def test_the_runner_does_not_know_which_system_it_drives():
    text = RUNNER.read_text()
    for word in ("ReferenceStack", "AttachedStack", "ReferenceSystem", "AttachedSystem", "Stack(", ".reference",
                 ".attach"):
        assert word not in text, f"drills/runner/drill.py mentions {word}: ask the System instead"


def test_system_for_picks_the_kind_from_the_stack_section():
    assert isinstance(system_for(ReferenceStack(), None, "20261201T000000Z-x"), ReferenceSystem)  # type: ignore[arg-type]
    assert isinstance(system_for(AttachedStack(api_url="http://127.0.0.1:1"), None, "r"), AttachedSystem)  # type: ignore[arg-type]


def test_reference_options_come_from_the_scenario_section():
    ref = ReferenceStack(async_replication=True, api_replicas=2, hot_event_seats=10, cold_events=1,
                         cold_event_seats=5, maximum_lag_on_failover=7, backups=False, backup_interval=30.0,
                         backup_type="full", backup_retention_full=3, archive_timeout=5.0)
    opts = options_for(ref, "s")
    assert (opts.async_replication, opts.api_replicas, opts.hot_event_seats, opts.cold_events,
            opts.cold_event_seats, opts.maximum_lag_on_failover, opts.backups, opts.backup_interval_s,
            opts.backup_type, opts.backup_retention_full, opts.archive_timeout_s) == \
        (True, 2, 10, 1, 5, 7, False, 30, "full", 3, 5)
    run_id = "20261201t000000z-leader_kill!"  # run ids are lower case (DrillRun)
    assert ReferenceSystem(None, ref, run_id).opts.name == "20261201t000000z-leader-kill"  # type: ignore[arg-type]


class _Ready(http.server.BaseHTTPRequestHandler):
    status = 503

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture()
def api():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_an_attached_system_has_recovered_when_its_readyz_answers_200(api):
    system = AttachedSystem(None, AttachedStack(api_url=api))  # type: ignore[arg-type]
    _Ready.status = 503
    with pytest.raises(InfrastructureError, match="readyz answers 200: last saw HTTP 503") as err:
        system.wait_recovered(timeout=1.5)
    assert "stack.attach.ready" in (err.value.hint or "")   # the default check says how to declare another
    _Ready.status = 200
    system.wait_recovered(timeout=5)
    assert system.serves_writes() and not system.prestarts_sidecars() and system.stack() is None
    assert system.teardown(keep=False, log=print) is False  # never removes anything of the user's
