"""The nemesis's clock thread starts faults at their moment by itself (nobody calls `tick`), and an action
added while it sleeps (an `after:` chain, a repeat) wakes it instead of waiting out its idle period."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest

from drills.faults.context import Injection
from drills.faults.ledger import Ledger
from drills.rundir.writers import EventLog
from drills.runner import scheduler as sched
from drills.scenario.model import After, Fault, Target


@pytest.fixture()
def run(tmp_path, monkeypatch):
    """A scheduler whose injects only register an empty heal (no Docker), with its events file."""
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    ledger = Ledger(tmp_path, "run-1")

    def inject(ctx, fault, key):
        ctx.ledger.register(key, fault.id, fault.type, [])
        return Injection(detail="ok")

    monkeypatch.setattr(sched.nemesis, "inject", inject)
    ctx = SimpleNamespace(marks={}, ledger=ledger, view=None)
    made: list[sched.FaultScheduler] = []

    def start(faults: list[Fault], steady_end_s: float = 30.0) -> sched.FaultScheduler:
        s = sched.FaultScheduler(ctx, faults, EventLog(tmp_path / "events.jsonl"), steady_end_s, log=lambda _m: None)
        s.start(time.monotonic())
        made.append(s)
        return s

    yield start, tmp_path / "events.jsonl"
    for s in made:
        s.heal_all("end of test")
        s.shutdown()


def _faults(path) -> list[dict]:
    if not path.exists():
        return []
    return [e for e in map(json.loads, path.read_text().splitlines()) if e["kind"] == "fault"]


def _wait_for(path, n: int, timeout_s: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(got := _faults(path)) >= n:
            return got
        time.sleep(0.02)
    raise AssertionError(f"only {len(_faults(path))} of {n} fault events after {timeout_s}s: {_faults(path)}")


def _kill(fid: str, **kw) -> Fault:
    return Fault(id=fid, type="kill", target=Target(service="api1"), **kw)


def test_faults_are_injected_and_healed_on_time_without_anybody_ticking(run):
    start, events = run
    start([_kill("a", at=0.2, duration=0.2), _kill("b", at=0.3, duration=0.1, repeat_every=0.3, repeat_count=2)])
    got = _wait_for(events, 6)
    assert {(e["fault_id"], e["phase"]) for e in got} == {("a", "inject"), ("a", "heal"), ("b", "inject"),
                                                          ("b", "heal")}
    for e in got:   # generous: the old runner loop never ran here at all; under load a thread may wake late
        assert 0 <= e["started_s"] - e["scheduled_s"] < 1.0, e


def test_an_action_added_while_the_clock_sleeps_wakes_it(run, monkeypatch):
    monkeypatch.setattr(sched, "CLOCK_IDLE_S", 60.0)   # without the wake-up the chained fault would wait a minute
    start, events = run
    t0 = time.monotonic()
    start([_kill("first", at=0.1, duration=0.1), _kill("then", after=After("first", "healed", 0.1), duration=0.1)])
    got = _wait_for(events, 4)
    assert [(e["fault_id"], e["phase"]) for e in got][-2:] == [("then", "inject"), ("then", "heal")]
    assert time.monotonic() - t0 < 30


def test_no_inject_starts_after_heal_all(run):
    start, events = run
    s = start([_kill("late", at=0.5, duration=0.1)])
    s.heal_all("stopped early")
    time.sleep(0.8)
    assert _faults(events) == []


def test_heal_all_waits_for_a_heal_already_running(run, monkeypatch):
    """A restore that began before the end of steady is still a fault being healed: the recovery phase must not
    start (heal_all must not return) before it is done, and a failure of it is heal_all's failure too."""
    slow = sched.heal_entry_with_data

    def heal(entry, ctx):
        time.sleep(0.8)
        done, _errors, data = slow(entry, ctx)
        return done, ["the restore failed"], data

    monkeypatch.setattr(sched, "heal_entry_with_data", heal)
    start, events = run
    s = start([_kill("restore", at=0.0, duration=0.1)])
    deadline = time.monotonic() + 10
    while not s._healing and time.monotonic() < deadline:   # the scheduled heal has begun
        time.sleep(0.01)
    t = time.monotonic()
    errors = s.heal_all("end of steady")
    assert time.monotonic() - t >= 0.3 and errors == ["a heal reported errors (see events.jsonl)"]
    assert [(e["fault_id"], e["phase"], e["ok"]) for e in _faults(events)] == [("restore", "inject", True),
                                                                                ("restore", "heal", False)]


def test_heal_all_gives_up_on_a_heal_that_never_ends(run, monkeypatch):
    monkeypatch.setattr(sched, "HEAL_WAIT_S", 0.2)
    release = threading.Event()

    def stuck(entry, ctx):
        release.wait(10)
        return [], [], {}

    monkeypatch.setattr(sched, "heal_entry_with_data", stuck)
    start, _events = run
    s = start([_kill("stuck", at=0.0, duration=0.05)])
    deadline = time.monotonic() + 10
    while not s._healing and time.monotonic() < deadline:
        time.sleep(0.01)
    assert s.heal_all("end of steady") == ["a heal did not finish within 0.2 s"]
    release.set()
