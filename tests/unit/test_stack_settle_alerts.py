"""A new stack is handed to a drill only once no alert fires *or is pending*: a pending alert fires seconds later,
right into the drill's pre-flight (seen in a game day: BackupTooOld pending at "healthy", firing 1 s later)."""

from __future__ import annotations

import pytest

from drills.platform import alert_watch, stack
from drills.platform.stack import StackStatus


def test_a_pending_alert_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    polls = {"n": 0}

    def pending(_session: object, _base: str) -> list[dict]:
        polls["n"] += 1
        return [{"alertname": "BackupTooOld", "state": "pending"}] if polls["n"] < 3 else []

    monkeypatch.setattr(alert_watch, "firing_alerts", lambda _e: [])       # Alertmanager: nothing fires yet
    monkeypatch.setattr(alert_watch, "prometheus_alerts", pending)
    monkeypatch.setattr(stack.time, "sleep", lambda _s: None)
    status = StackStatus(name="t", run_id=None, options={})
    status.endpoints = {"prometheus": "http://127.0.0.1:1", "alertmanager": "http://127.0.0.1:2",
                        "alert_receiver": "http://127.0.0.1:3"}
    logged: list[str] = []
    stack.settle_alerts(status, logged.append, timeout=5.0)
    assert polls["n"] == 3 and not logged   # waited through two pending answers, then returned quietly


def test_what_stays_active_is_logged_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alert_watch, "firing_alerts", lambda _e: [{"alertname": "PatroniNoLeader"}])
    monkeypatch.setattr(alert_watch, "prometheus_alerts", lambda _s, _b: [])
    status = StackStatus(name="t", run_id=None, options={})
    status.endpoints = {"prometheus": "http://127.0.0.1:1", "alertmanager": "http://127.0.0.1:2"}
    logged: list[str] = []
    stack.settle_alerts(status, logged.append, timeout=0.6)
    assert logged and "PatroniNoLeader" in logged[0]
