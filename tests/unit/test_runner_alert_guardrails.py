"""The alert guardrails of a drill (issue 16): the pre-flight refuses to start while an alert fires (its own exit
code; `allow_firing_at_start` lets it), and an `abort_on` alert stops the drill (drills/runner/abort.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from drills.errors import ExitCode, InfrastructureError, PreconditionFailed
from drills.platform import alert_watch
from drills.runner.abort import AbortWatch, AlertStop
from drills.runner.drill import DrillRun
from drills.scenario.model import AlertsSection, Scenario


def append(path: Path, *lines: dict) -> None:
    with path.open("a") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")


def test_an_abort_on_alert_that_starts_firing_stops_the_drill(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    since = time.time()
    stop = AlertStop(["EtcdQuorumLost"], path, since=since)
    assert stop.check() is None                                     # no record yet
    append(path, {"t": since - 5, "kind": "state", "alertname": "EtcdQuorumLost", "state": "firing"},  # before
           {"t": since + 1, "kind": "state", "alertname": "PatroniNoLeader", "state": "firing"},      # not listed
           {"t": since + 1, "kind": "notification", "alertname": "EtcdQuorumLost", "status": "firing",
            "starts_at": since - 60})                               # a repeat of a firing older than the drill
    assert stop.check() is None
    with path.open("a") as f:
        f.write('{"t": %f, "kind": "state", "alertname": "EtcdQuorumLost", "sta' % (since + 2))   # half a line
    assert stop.check() is None
    with path.open("a") as f:
        f.write('te": "firing"}\n')
    reason = stop.check()
    assert reason is not None and "EtcdQuorumLost" in reason and "abort_on" in reason


def test_the_abort_watch_checks_abort_on_alerts_too(tmp_path: Path) -> None:
    watch = AbortWatch([], tmp_path, abort_on=["ApiAllDown"])
    watch._refresh_stats = lambda: None      # type: ignore[method-assign]  # no load stats in this test
    assert watch.check(None) is None
    append(tmp_path / "alerts.jsonl", {"t": time.time() + 1, "kind": "notification", "alertname": "ApiAllDown",
                                       "status": "firing", "starts_at": time.time() + 1})
    assert "ApiAllDown" in (watch.check(None) or "")


def run_stub(alerts: AlertsSection | None, endpoints: dict) -> SimpleNamespace:
    """What DrillRun._check_alerts needs of a run: its scenario, endpoints, log and events."""
    logged: list[str] = []
    events: list[tuple] = []
    stub = SimpleNamespace(scenario=Scenario(name="t", alerts=alerts), endpoints=endpoints, log=logged.append,
                           events=SimpleNamespace(emit=lambda *a, **k: events.append((a, k))),
                           logged=logged, emitted=events, monitoring=None)
    stub._monitoring = lambda: DrillRun._monitoring(stub)   # type: ignore[arg-type]
    return stub


FIRING = [{"alertname": "PatroniNoLeader", "labels": {"alertname": "PatroniNoLeader", "severity": "page"},
           "starts_at": 1.0, "summary": "", "source": "alertmanager"},
          {"alertname": "ApiReplicaDown", "labels": {"alertname": "ApiReplicaDown", "instance": "api2"},
           "starts_at": 1.0, "summary": "", "source": "alertmanager"}]
STACK = {"api": "http://127.0.0.1:8080", "alertmanager": "http://127.0.0.1:9093"}


def test_the_preflight_refuses_to_start_while_an_alert_fires(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alert_watch, "firing_alerts", lambda endpoints: FIRING)
    stub = run_stub(None, STACK)
    with pytest.raises(PreconditionFailed) as caught:
        DrillRun._check_alerts(stub)   # type: ignore[arg-type]
    assert caught.value.exit_code == ExitCode.PRECONDITION == 7
    assert "PatroniNoLeader" in caught.value.message and "ApiReplicaDown (instance=api2)" in caught.value.message
    assert "allow_firing_at_start" in (caught.value.hint or "")


def test_allow_firing_at_start_lets_it_start_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alert_watch, "firing_alerts", lambda endpoints: FIRING)
    stub = run_stub(AlertsSection(allow_firing_at_start=True), STACK)
    DrillRun._check_alerts(stub)   # type: ignore[arg-type]
    assert stub.emitted[0][1]["alerts"] == ["ApiReplicaDown", "PatroniNoLeader"]


def test_quiet_monitoring_starts_and_no_monitoring_asks_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[object] = []
    monkeypatch.setattr(alert_watch, "firing_alerts", lambda endpoints: asked.append(endpoints) or [])
    DrillRun._check_alerts(run_stub(None, STACK))   # type: ignore[arg-type]
    assert len(asked) == 1
    DrillRun._check_alerts(run_stub(None, {"api": "http://127.0.0.1:8080"}))   # type: ignore[arg-type]
    assert len(asked) == 1


def test_an_attached_systems_own_urls_are_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[alert_watch.MonitoringEndpoints] = []
    monkeypatch.setattr(alert_watch, "firing_alerts", lambda endpoints: asked.append(endpoints) or [])
    DrillRun._check_alerts(run_stub(AlertsSection(prometheus_url="http://127.0.0.1:9090"),   # type: ignore[arg-type]
                                    {"api": "http://127.0.0.1:8080"}))
    assert asked[0].prometheus == "http://127.0.0.1:9090" and asked[0].alertmanager is None


def test_unreachable_monitoring_refuses_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def down(endpoints: object) -> list:
        raise alert_watch.MonitoringUnavailable("Alertmanager at http://127.0.0.1:9093 does not answer")
    monkeypatch.setattr(alert_watch, "firing_alerts", down)
    with pytest.raises(InfrastructureError, match="does not answer"):
        DrillRun._check_alerts(run_stub(None, STACK))   # type: ignore[arg-type]
