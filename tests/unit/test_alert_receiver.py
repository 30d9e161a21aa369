"""The drill's Alertmanager receiver (harness/images/monitoring/alert_receiver.py): webhook messages become
alerts.jsonl lines stamped with their arrival, malformed ones become problem lines, and the HTTP server keeps
answering whatever it is sent. The server runs for real on loopback; no Docker."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from drills.platform import http
from drills.platform.images import HARNESS

PATH = HARNESS / "images" / "monitoring" / "alert_receiver.py"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rx = _load("drills_alert_receiver", PATH)

MESSAGE = {
    "version": "4", "status": "firing", "receiver": "drills", "groupKey": "{}:{alertname=\"PatroniNoLeader\"}",
    "alerts": [
        {"status": "firing", "labels": {"alertname": "PatroniNoLeader", "severity": "page"},
         "annotations": {"summary": "No primary"}, "startsAt": "2026-12-01T20:00:00.123456789Z",
         "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "8c1f00aa"},
        {"status": "resolved", "labels": {"alertname": "EtcdMemberDown", "service": "etcd2"},
         "annotations": {}, "startsAt": "2026-12-01T20:00:00+01:00", "endsAt": "2026-12-01T19:00:30.5Z",
         "fingerprint": "77"},
    ],
}


def test_times_are_epoch_seconds_and_the_zero_time_is_none():
    assert rx.parse_time("2026-12-01T20:00:00Z") == 1796155200.0
    assert rx.parse_time("2026-12-01T20:00:00.123456789Z") == 1796155200.123
    assert rx.parse_time("2026-12-01T21:00:00+01:00") == 1796155200.0
    assert rx.parse_time("0001-01-01T00:00:00Z") is None and rx.parse_time(None) is None
    for bad in ("yesterday", "2026-12-01", 12):
        with pytest.raises(ValueError):
            rx.parse_time(bad)


def test_each_alert_of_a_message_is_one_notification_line_stamped_on_arrival():
    lines = rx.notification_lines(json.dumps(MESSAGE).encode(), 1796155201.23456)
    assert [ln["kind"] for ln in lines] == ["notification", "notification"]
    first, second = lines
    assert first == {"t": 1796155201.235, "kind": "notification", "status": "firing", "alertname": "PatroniNoLeader",
                     "labels": {"alertname": "PatroniNoLeader", "severity": "page"},
                     "annotations": {"summary": "No primary"}, "starts_at": 1796155200.123, "ends_at": None,
                     "fingerprint": "8c1f00aa", "receiver": "drills"}
    assert (second["status"], second["starts_at"], second["ends_at"]) == ("resolved", 1796151600.0, 1796151630.5)


@pytest.mark.parametrize("body, why", [
    (b"\xff\xfe", "not JSON"),
    (b"{not json", "not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"receiver": "drills"}', "no list 'alerts'"),
    (b'{"alerts": {"a": 1}}', "no list 'alerts'"),
])
def test_a_body_that_is_no_webhook_message_is_one_problem_line(body: bytes, why: str):
    (line,) = rx.notification_lines(body, 5.0)
    assert line["kind"] == "problem" and line["source"] == "receiver" and why in line["error"] and line["t"] == 5.0


def test_a_broken_alert_does_not_hide_the_good_ones():
    msg = {"receiver": "drills", "alerts": [
        "text", {"status": "pending", "labels": {"alertname": "X"}}, {"status": "firing", "labels": {}},
        {"status": "firing", "labels": {"alertname": "X"}, "startsAt": "soon"},
        {"status": "firing", "labels": ["alertname"]},
        MESSAGE["alerts"][0],
    ]}
    lines = rx.notification_lines(json.dumps(msg).encode(), 1.0)
    assert [ln["kind"] for ln in lines] == ["problem"] * 5 + ["notification"]
    assert "alert 1" in lines[1]["error"] and "status" in lines[1]["error"]
    assert "alertname" in lines[2]["error"] and "RFC 3339" in lines[3]["error"]


def test_the_journal_hands_out_complete_lines_after_an_offset(tmp_path: Path):
    journal = rx.Journal(str(tmp_path / "n.jsonl"))
    journal.append([{"a": 1}, {"a": 2}])
    nxt, lines = journal.read(0)
    assert lines == [{"a": 1}, {"a": 2}] and nxt == journal.size()
    with open(journal.path, "ab") as fh:
        fh.write(b'{"a": 3')                   # a line being written: not handed out yet
    nxt2, lines2 = journal.read(nxt)
    assert (nxt2, lines2) == (nxt, [])
    with open(journal.path, "ab") as fh:
        fh.write(b"}\n")
    assert journal.read(nxt)[1] == [{"a": 3}]


@pytest.fixture()
def receiver(tmp_path: Path) -> Iterator[str]:
    handler = type("H", (rx.Handler,), {"journal": rx.Journal(str(tmp_path / "journal.jsonl"))})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_server_records_webhooks_and_serves_them_back(receiver: str):
    assert http.get(f"{receiver}/-/ready", timeout=2).status_code == 200
    assert http.get(f"{receiver}/notifications", params={"offset": "end"}, timeout=2).json() == \
        {"next": 0, "lines": []}
    assert http.post(f"{receiver}/webhook", json=MESSAGE, timeout=2).status_code == 200
    bad = http.post(f"{receiver}/webhook", data=b"garbage", timeout=2)
    assert bad.status_code == 400
    assert http.post(f"{receiver}/elsewhere", data=b"{}", timeout=2).status_code == 404
    doc = http.get(f"{receiver}/notifications", params={"offset": 0}, timeout=2).json()
    kinds = [(ln["kind"], ln.get("alertname")) for ln in doc["lines"]]
    assert kinds == [("notification", "PatroniNoLeader"), ("notification", "EtcdMemberDown"), ("problem", None)]
    again = http.get(f"{receiver}/notifications", params={"offset": doc["next"]}, timeout=2).json()
    assert again == {"next": doc["next"], "lines": []}
    assert http.get(f"{receiver}/notifications", params={"offset": "x"}, timeout=2).status_code == 400
    # still alive after all that
    assert http.get(f"{receiver}/-/ready", timeout=2).status_code == 200
