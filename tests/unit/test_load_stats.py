"""Per-second stats, the request recorder (Locust-free) and the harness-side live_stats reader."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from drills.load.livestats import live_stats
from drills.load.locust_side.recorder import STANDARD_KEYS, Recorder
from drills.load.locust_side.stats import SecondStats, percentile
from drills.rundir.tolerant import read_complete
from drills.rundir.writers import BufferedLineWriter


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def response(status: int, body: object = None, headers: dict | None = None) -> SimpleNamespace:
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    return SimpleNamespace(status_code=status, headers=hdrs, content=json.dumps(body).encode() if body else b"")


def test_percentile_nearest_rank() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([], 99) is None and percentile([7.0], 99) == 7.0


def test_second_lines_count_completions_starts_and_empty_seconds() -> None:
    s = SecondStats("w0", start=1000.2)
    for _ in range(10):
        s.started(1000.5)
    s.completed(1000.9, "ok", 10)
    s.completed(1000.95, "fail", 30)
    for _ in range(8):
        s.completed(1002.1, "info", 5000)  # second 1001 had no answers at all: a stall
    s.dropped(1002.3, 4)
    assert s.due_lines(1001.1, users=10, cpu_percent=5.0) == []  # 1000 is not over + grace yet
    lines = s.due_lines(1003.3, users=10, cpu_percent=5.0, target_rate=lambda t: 10.0)
    assert [line["t"] for line in lines] == [1000.0, 1001.0, 1002.0]
    first, stall, late = lines
    assert (first["requests"], first["ok"], first["fail"], first["offered_rate"]) == (2, 1, 1, 10.0)
    assert first["p50_ms"] == 10 and first["p99_ms"] == 30 and first["target_rate"] == 10.0
    assert stall["requests"] == 0 and stall["p99_ms"] is None and stall["in_flight"] == 0
    assert (late["info"], late["dropped"], late["users"], late["worker"]) == (8, 4, 10, "w0")
    final = s.due_lines(1003.5, users=0, cpu_percent=1.0, final=True)
    assert [line["t"] for line in final] == [1003.0]


def make_recorder(tmp_path: Path) -> tuple[Recorder, BufferedLineWriter, Clock]:
    clock = Clock(2000.0)
    writer = BufferedLineWriter(tmp_path / "history.jsonl", flush_interval=3600)
    rec = Recorder("w3", writer, SecondStats("w3", 2000.0), clock=clock)
    return rec, writer, clock


def test_recorder_writes_the_documented_line(tmp_path: Path) -> None:
    rec, writer, clock = make_recorder(tmp_path)
    ctx = rec.begin({"op": "purchase", "user": "u-1", "key": "k1", "attempt": 2, "event_id": 1, "seats": None,
                     "quantity": 2})
    clock.t = 2000.25
    rec.on_request("POST", "/events/{id}/purchases", 250.0, 10,
                   response(201, {"order_id": 9, "ticket_ids": [90, 91], "seats": [11, 12]}, {"X-Replica": "api2"}),
                   ctx, None, start_time=2000.0)
    writer.close()
    (line,) = read_complete(writer.path).records
    assert set(STANDARD_KEYS) <= set(line)
    assert line == {**line, "op": "purchase", "worker": "w3", "user": "u-1", "invoke": 2000.0, "complete": 2000.25,
                    "outcome": "ok", "status": 201, "error": None, "key": "k1", "attempt": 2, "event_id": 1,
                    "seats": [11, 12], "quantity": 2, "order_id": 9, "ticket_ids": [90, 91], "replica": "api2",
                    "credential_version": None}
    assert "_op" not in line


def test_recorder_overrides_skips_extras_and_custom_requests(tmp_path: Path) -> None:
    rec, writer, clock = make_recorder(tmp_path)
    rec.on_request("OP", "verify_password", 12.0, 0, None,
                   {"op": "verify_password", "user": "u", "outcome": "fail", "error": "old_password_accepted",
                    "verify": {"old_password": "accepted"}}, Exception("x"), start_time=2000.0)
    rec.on_request("POST", "/sessions", 3.0, 0, response(401, {"error": "invalid_credentials"}), {"_skip": True},
                   None, start_time=2000.0)
    rec.on_request("GET", "/custom/{id}", 5.0, 0, response(503, {"error": "indeterminate"}), {}, None,
                   start_time=2000.0)
    rec.on_request("GET", "/down", 5.0, 0, None, None, ConnectionRefusedError(111, "refused"), start_time=2000.0)
    writer.close()
    lines = read_complete(writer.path).records
    assert [(r["op"], r["outcome"], r["error"]) for r in lines] == [
        ("verify_password", "fail", "old_password_accepted"), ("/custom/{id}", "info", "indeterminate"),
        ("/down", "fail", "ConnectionRefused")]
    assert lines[0]["verify"] == {"old_password": "accepted"}
    assert all("token" not in r for r in lines)
    lines_s = rec.stats.due_lines(2002.0, users=1, cpu_percent=None, final=True)  # type: ignore[union-attr]
    assert lines_s[0]["offered_rate"] == 3  # unannounced requests are offered when they complete


def test_recorder_keeps_session_tokens_only_when_asked_and_never_in_the_history(tmp_path: Path) -> None:
    rec, writer, _clock = make_recorder(tmp_path)
    rec.tokens = tokens = BufferedLineWriter(tmp_path / "tokens-w3.jsonl", flush_interval=3600, mode=0o600)
    body = {"token": "t0k", "credential_version": 3}
    rec.on_request("POST", "/sessions", 1.0, 0, response(201, body), {"op": "login", "user": "u", "_token": True},
                   None, start_time=2000.0)
    rec.on_request("POST", "/sessions", 1.0, 0, response(201, body), {"op": "login"}, None, start_time=2000.0)
    writer.close()
    tokens.close()
    first, second = read_complete(writer.path).records
    assert first["credential_version"] == 3 and "token" not in first and "token" not in second
    assert read_complete(tokens.path).records == [{"user": "u", "op": "login", "complete": 2000.001, "token": "t0k"}]
    assert tokens.path.stat().st_mode & 0o777 == 0o600


def test_recorder_writes_operations_killed_in_flight(tmp_path: Path) -> None:
    rec, writer, clock = make_recorder(tmp_path)
    rec.begin({"op": "purchase", "key": "k9", "attempt": 1})
    done = rec.begin({"op": "browse"})
    rec.on_request("GET", "/events", 1.0, 0, response(200, [1]), done, None, start_time=2000.0)
    clock.t = 2007.0
    assert rec.abandon_inflight() == 1 and rec.abandon_inflight() == 0
    writer.close()
    lines = read_complete(writer.path).records
    killed = [r for r in lines if r["op"] == "purchase"][0]
    assert (killed["outcome"], killed["error"], killed["key"], killed["complete"]) == \
        ("info", "Abandoned", "k9", 2007.0)


def test_live_stats_sums_processes_over_the_window(tmp_path: Path) -> None:
    lines = []
    for t in range(100, 110):
        for worker, extra in (("w0", 0), ("w1", 10)):
            lines.append({"t": float(t), "worker": worker, "requests": 50 + extra, "ok": 45 + extra, "fail": 3,
                          "info": 2, "p50_ms": 10.0, "p99_ms": 100.0 + t, "offered_rate": 50.0 + extra,
                          "target_rate": 60.0, "users": 20, "cpu_percent": 30.0 + extra, "dropped": 1})
    (tmp_path / "stats.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"t": 110.0, "wor')
    got = live_stats(tmp_path, since=105)
    assert got["seconds"] == 5 and got["requests"] == 5 * 110 and got["rps"] == 110.0
    assert got["error_pct"] == round(100 * 5 * 10 / 550, 2) and got["p99_ms"] == 209.0
    assert got["offered_rate"] == 110.0 and got["target_rate"] == 120.0 and got["dropped"] == 10
    assert got["users"] == 40 and got["cpu_percent"] == 40.0
    empty = live_stats(tmp_path / "nowhere", since=0)
    assert empty["rps"] == 0.0 and empty["error_pct"] is None and empty["p99_ms"] is None


def test_live_stats_reads_only_the_tail_of_a_big_file(tmp_path: Path) -> None:
    line = {"t": 0.0, "worker": "w0", "requests": 1, "ok": 1, "fail": 0, "info": 0, "p99_ms": 1.0}
    with open(tmp_path / "stats.jsonl", "w") as f:
        for t in range(20000):
            f.write(json.dumps({**line, "t": float(t)}) + "\n")
    got = live_stats(tmp_path, since=19990)
    assert got["seconds"] == 10 and got["requests"] == 10
    assert live_stats(tmp_path, since=0)["seconds"] == 20000
