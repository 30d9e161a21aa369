"""The harness-side alert collector (drills/platform/alert_watch.py) against small loopback HTTP servers that
answer like Prometheus' /api/v1/alerts and Alertmanager's /api/v2/alerts, and the real receiver script: state
lines on changes only, notifications copied from where the journal stood at start, problems instead of hangs.
(The real Prometheus and Alertmanager are in tests/integration/test_monitoring.py.)"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from drills.platform import alert_watch
from drills.platform.alert_watch import AlertWatch, MonitoringEndpoints, MonitoringUnavailable
from drills.rundir import files
from tests.unit.test_alert_receiver import MESSAGE, rx


class FakeMonitoring:
    """What Prometheus and Alertmanager answer, settable by the test."""

    def __init__(self) -> None:
        self.prom_alerts: list[dict[str, Any]] = []
        self.am_alerts: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.targets: list[dict[str, Any]] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                fake.requests.append(self.path)
                if self.path.startswith("/api/v1/alerts"):
                    doc: Any = {"status": "success", "data": {"alerts": fake.prom_alerts}}
                elif self.path.startswith("/api/v2/alerts"):
                    doc = fake.am_alerts
                elif self.path.startswith("/api/v1/targets"):
                    doc = {"status": "success", "data": {"activeTargets": fake.targets}}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return H


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture()
def fake() -> Iterator[tuple[FakeMonitoring, str]]:
    f = FakeMonitoring()
    server, url = _serve(f.handler())
    yield f, url
    server.shutdown()
    server.server_close()


@pytest.fixture()
def receiver(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    journal = rx.Journal(str(tmp_path / "journal.jsonl"))
    server, url = _serve(type("H", (rx.Handler,), {"journal": journal}))
    yield journal, url
    server.shutdown()
    server.server_close()


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"   # closed again: connection refused


def _lines(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / files.ALERTS).read_text().splitlines()]


def _prom_alert(name: str, state: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, **labels}, "annotations": {}, "state": state,
            "activeAt": "2026-12-01T20:00:01.5Z", "value": "1"}


def test_state_lines_are_written_on_changes_only(fake, tmp_path: Path):
    f, url = fake
    with AlertWatch(MonitoringEndpoints(prometheus=url), tmp_path, poll_s=0.05) as w:
        f.prom_alerts = [_prom_alert("PatroniNoLeader", "pending", severity="page")]
        _wait(lambda: w.lines >= 1)
        f.prom_alerts = [_prom_alert("PatroniNoLeader", "firing", severity="page")]
        _wait(lambda: w.lines >= 2)
        f.prom_alerts = []
        _wait(lambda: w.lines >= 3)
        time.sleep(0.2)
    states = [(ln["state"], ln["active_at"]) for ln in _lines(tmp_path)]
    assert states == [("pending", 1796155201.5), ("firing", 1796155201.5), ("inactive", None)]
    first = _lines(tmp_path)[0]
    assert first["kind"] == "state" and first["source"] == "prometheus" and first["alertname"] == "PatroniNoLeader"
    assert first["labels"] == {"alertname": "PatroniNoLeader", "severity": "page"}
    assert abs(first["t"] - time.time()) < 5


def test_notifications_from_before_the_start_are_not_this_drills(receiver, tmp_path: Path):
    journal, url = receiver
    journal.append(rx.notification_lines(json.dumps(MESSAGE).encode(), 1.0))   # an earlier drill's
    watch = AlertWatch(MonitoringEndpoints(receiver=url), tmp_path, poll_s=0.05).start()
    try:
        assert http_post(f"{url}/webhook", MESSAGE) == 200
        assert http_post(f"{url}/webhook", b"not json") == 400
        _wait(lambda: watch.lines >= 3)
    finally:
        watch.stop()
    lines = _lines(tmp_path)
    assert [ln["kind"] for ln in lines] == ["notification", "notification", "problem"]
    assert all(ln["t"] > 1000 for ln in lines)
    assert lines[0]["alertname"] == "PatroniNoLeader" and lines[0]["ends_at"] is None


def test_stop_reads_what_arrived_last(receiver, tmp_path: Path):
    journal, url = receiver
    watch = AlertWatch(MonitoringEndpoints(receiver=url), tmp_path, poll_s=10).start()
    time.sleep(0.1)
    journal.append(rx.notification_lines(json.dumps(MESSAGE).encode(), time.time()))
    watch.stop()
    assert len(_lines(tmp_path)) == 2


def test_an_unreachable_source_is_one_problem_line_per_outage_and_never_a_hang(tmp_path: Path):
    dead = _dead_url()
    t0 = time.monotonic()
    watch = AlertWatch(MonitoringEndpoints(prometheus=dead, receiver=dead), tmp_path, poll_s=0.05).start()
    time.sleep(0.5)
    watch.stop()
    assert time.monotonic() - t0 < 5
    lines = _lines(tmp_path)
    assert sorted(ln["source"] for ln in lines) == ["prometheus", "receiver"]
    assert all(ln["kind"] == "problem" and dead in ln["error"] for ln in lines)


def test_a_source_that_comes_back_and_fails_again_is_a_second_problem(fake, tmp_path: Path):
    f, url = fake
    watch = AlertWatch(MonitoringEndpoints(prometheus=url), tmp_path)
    watch.start()
    watch._stop.set()  # noqa: SLF001 - drive the rounds by hand, once the thread's own round is over
    assert watch._thread is not None  # noqa: SLF001
    watch._thread.join(timeout=10)  # noqa: SLF001 - a round of its own racing ours counted a third problem (CI)
    endpoints = [MonitoringEndpoints(prometheus=_dead_url()), MonitoringEndpoints(prometheus=url)]
    for ep in (endpoints[0], endpoints[0], endpoints[1], endpoints[0]):
        watch.endpoints = ep
        watch.poll_once()
    watch.stop()
    assert [ln["kind"] for ln in _lines(tmp_path)] == ["problem", "problem"]


def test_firing_alerts_asks_alertmanager_for_what_would_page(fake):
    f, url = fake
    f.am_alerts = [
        {"labels": {"alertname": "PatroniNoLeader", "severity": "page"}, "annotations": {"summary": "no primary"},
         "startsAt": "2026-12-01T20:00:00Z", "status": {"state": "active"}},
        {"labels": {"alertname": "Old"}, "status": {"state": "suppressed"}},
        {"labels": {}}, "junk",
    ]
    found = alert_watch.firing_alerts(MonitoringEndpoints(alertmanager=url, prometheus=url))
    assert found == [{"alertname": "PatroniNoLeader", "labels": {"alertname": "PatroniNoLeader", "severity": "page"},
                      "starts_at": 1796155200.0, "summary": "no primary", "source": "alertmanager"}]
    asked = [p for p in f.requests if p.startswith("/api/v2/alerts")][-1]
    assert "active=true" in asked and "silenced=false" in asked and "inhibited=false" in asked


def test_firing_alerts_falls_back_to_prometheus_and_refuses_to_guess(fake):
    f, url = fake
    f.prom_alerts = [_prom_alert("B", "firing"), _prom_alert("A", "pending"), _prom_alert("A", "firing", x="1")]
    names = [a["alertname"] for a in alert_watch.firing_alerts(MonitoringEndpoints(prometheus=url))]
    assert names == ["A", "B"]
    dead = _dead_url()
    t0 = time.monotonic()
    with pytest.raises(MonitoringUnavailable, match="Alertmanager at"):
        alert_watch.firing_alerts(MonitoringEndpoints(alertmanager=dead))
    with pytest.raises(MonitoringUnavailable):
        alert_watch.firing_alerts(MonitoringEndpoints(receiver=url))
    assert time.monotonic() - t0 < 5


def test_scrape_health_splits_targets(fake):
    f, url = fake
    f.targets = [{"labels": {"job": "patroni", "service": "pg1"}, "health": "up"},
                 {"labels": {"job": "etcd", "instance": "etcd1:2379"}, "health": "unknown"}]
    assert alert_watch.scrape_health(url) == (["patroni/pg1"], ["etcd/etcd1:2379"])
    with pytest.raises(MonitoringUnavailable):
        alert_watch.scrape_health(_dead_url())


def test_endpoints_of_a_stack_and_of_the_users_loopback_urls():
    assert MonitoringEndpoints.of_stack({"api": "http://127.0.0.1:1"}) is None
    ep = MonitoringEndpoints.of_stack({"prometheus": "http://127.0.0.1:9", "alertmanager": "http://127.0.0.1:8",
                                       "alert_receiver": "http://127.0.0.1:7"})
    assert ep == MonitoringEndpoints("http://127.0.0.1:9", "http://127.0.0.1:8", "http://127.0.0.1:7")
    assert MonitoringEndpoints.loopback(alertmanager="http://localhost:9093/").alertmanager == "http://localhost:9093"
    with pytest.raises(ValueError, match="alertmanager: expected a loopback URL"):
        MonitoringEndpoints.loopback(alertmanager="http://10.0.0.5:9093")
    with pytest.raises(ValueError, match="prometheus"):
        MonitoringEndpoints.loopback(prometheus="https://127.0.0.1:9090")


def test_rfc3339_times_with_nanoseconds():
    assert alert_watch.parse_time("2026-12-01T20:00:00.123456789Z") == 1796155200.123
    assert alert_watch.parse_time("2026-12-01T21:00:00+01:00") == 1796155200.0
    assert alert_watch.parse_time("0001-01-01T00:00:00Z") is None
    assert alert_watch.parse_time("garbage") is None and alert_watch.parse_time(None) is None


def http_post(url: str, body: Any) -> int:
    from drills.platform import http
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(url, data=data, timeout=2).status_code


def _wait(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
