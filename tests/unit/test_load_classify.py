"""Honest outcomes: the pure rules, then a real Locust process against a local server that answers every
kind of response the reference stack (and its load balancer) can give."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from drills.load.locust_side.classify import FAIL, INFO, OK, classify, classify_exception, parse_body
from drills.load.runner import start_load
from drills.rundir.tolerant import read_complete
from drills.scenario.model import LoadProfile, LoadSection, Phases

JSON = {"Content-Type": "application/json"}

# case -> (status, headers, body); "slow" and "reset" are handled specially.
CASES: dict[str, tuple[int, dict, object]] = {
    "created": (201, {**JSON, "X-Replica": "api9"}, {"order_id": 7, "ticket_ids": [70, 71], "seats": [3, 4]}),
    "replayed": (200, {**JSON, "Idempotent-Replayed": "true"}, {"order_id": 7, "ticket_ids": [70, 71]}),
    "conflict": (409, JSON, {"error": "seats_unavailable", "outcome": "fail", "unavailable": [3]}),
    "reused_key": (422, JSON, {"error": "idempotency_key_reused", "outcome": "fail"}),
    "unauthorized": (401, JSON, {"error": "unauthorized", "outcome": "fail"}),
    "indeterminate": (503, {**JSON, "X-Outcome": "indeterminate"}, {"error": "indeterminate", "outcome": "info"}),
    "unavailable": (503, {**JSON, "Retry-After": "1"}, {"error": "unavailable", "outcome": "fail"}),
    "bad_gateway": (502, {"Content-Type": "text/html"}, "<html>502 Bad Gateway</html>"),
    "gateway_timeout": (504, {"Content-Type": "text/html"}, "<html>504 Gateway Time-out</html>"),
    "lb_no_server": (503, {"Content-Type": "text/html"}, "<html>503 Service Unavailable</html>"),
    "internal_write": (500, {**JSON, "X-Outcome": "indeterminate"}, {"error": "internal", "outcome": "info"}),
    "too_many": (429, {}, ""),
}
EXPECTED = {
    "created": (OK, None), "replayed": (OK, None), "conflict": (FAIL, "seats_unavailable"),
    "reused_key": (FAIL, "idempotency_key_reused"), "unauthorized": (FAIL, "unauthorized"),
    "indeterminate": (INFO, "indeterminate"), "unavailable": (FAIL, "unavailable"),
    "bad_gateway": (INFO, "http_502"), "gateway_timeout": (INFO, "http_504"), "lb_no_server": (INFO, "http_503"),
    "internal_write": (INFO, "indeterminate"), "too_many": (INFO, "http_429"),
    "slow": (INFO, "ReadTimeout"), "refused": (FAIL, "ConnectionRefused"),
}
SLOW_S = 2.5
CLIENT_TIMEOUT_S = 1.0


class CaseHandler(BaseHTTPRequestHandler):
    """Answers /<case> with that case; /slow after SLOW_S; /reset with a TCP RST after reading."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        case = self.path.strip("/").split("?")[0]
        if case == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if case == "slow":
            time.sleep(SLOW_S)
        status, headers, body = CASES.get(case, (200, JSON, {"ok": True, "replica_free": True}))
        data = (json.dumps(body) if not isinstance(body, str) else body).encode()
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (slow case)
            self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass


class CaseServer:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) for the duration of a test."""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), CaseHandler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda *a: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> CaseServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the pure rules ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_classify_rules(case: str) -> None:
    status, headers, body = CASES[case]
    parsed = body if isinstance(body, dict) else None
    assert classify(status, headers, parsed) == EXPECTED[case]


def test_no_answer_rules() -> None:
    assert classify_exception(ConnectionRefusedError(111, "refused")) == (FAIL, "ConnectionRefused")
    assert classify_exception(TimeoutError("timed out")) == (INFO, "ReadTimeout")
    assert classify_exception(ConnectionResetError(104, "reset")) == (INFO, "ConnectionReset")
    assert classify_exception(ValueError("weird")) == (INFO, "ValueError")
    wrapped = RuntimeError("retries exceeded")
    wrapped.original = TimeoutError("timed out")  # type: ignore[attr-defined]  (geventhttpclient's wrapper)
    assert classify_exception(wrapped) == (INFO, "ReadTimeout")
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError as inner:
            raise OSError("could not connect") from inner
    except OSError as outer:
        assert classify_exception(outer) == (FAIL, "ConnectionRefused")
    assert classify(None, None, None, None) == (INFO, "NoResponse")


def test_explicit_markers_win_over_status() -> None:
    assert classify(500, {}, {"error": "internal", "outcome": "fail"}) == (FAIL, "internal")
    assert classify(503, {"x-outcome": "indeterminate"}, None) == (INFO, "indeterminate")
    assert classify(409, {}, {"error": "indeterminate"}) == (INFO, "indeterminate")
    assert classify(500, {}, {"error": "boom"}) == (INFO, "boom")  # no definite marker: maybe applied
    assert classify(201, {"X-Outcome": "indeterminate"}, None) == (OK, None)  # 2xx is an acknowledgement


def test_parse_body_only_json() -> None:
    assert parse_body(JSON, b'{"a": 1}') == {"a": 1}
    assert parse_body({"Content-Type": "text/html"}, b"<html>") is None
    assert parse_body(JSON, b"{broken") is None
    assert parse_body(JSON, None) is None


# -- a real Locust process ----------------------------------------------------------------------------------

LOCUSTFILE = """
from locust import FastHttpUser, HttpUser, constant, task

CASES = {cases!r}
REFUSED = "http://127.0.0.1:{refused}/x"


class FastCases(FastHttpUser):
    network_timeout = {timeout}
    connection_timeout = {timeout}
    max_retries = 0
    wait_time = constant(3600)

    @task
    def all_cases(self):
        for case in CASES:
            self.client.post("/" + case, json={{}}, name=case, context={{"op": "fast:" + case, "key": "k-" + case}})
        self.client.post(REFUSED, json={{}}, context={{"op": "fast:refused"}})
        self.client.get("/plain")  # no context at all: recorded under its Locust name


class RequestsCases(HttpUser):
    wait_time = constant(3600)

    @task
    def all_cases(self):
        for case in CASES:
            self.client.post("/" + case, json={{}}, name=case, timeout={timeout}, context={{"op": "req:" + case}})
        self.client.post(REFUSED, json={{}}, timeout={timeout}, context={{"op": "req:refused"}})
"""


def test_real_locust_classifies_every_response(tmp_path: Path) -> None:
    cases = [*CASES, "slow", "reset"]
    locustfile = tmp_path / "cases_locustfile.py"
    locustfile.write_text(LOCUSTFILE.format(cases=cases, refused=closed_port(), timeout=CLIENT_TIMEOUT_S))
    load = LoadSection(locustfile=locustfile.name, user_classes=["FastCases", "RequestsCases"],
                       profile=LoadProfile(type="constant_users", users=2, spawn_rate=10), request_timeout=1.0)
    expected_lines = 2 * (len(cases) + 1) + 1
    run_dir = tmp_path / "run"
    with CaseServer() as server:
        handle = start_load(load, Phases(warmup=1, steady=30, recovery=1), server.url, run_dir, "s3cret", 1,
                            scenario_dir=tmp_path)
        try:
            handle.wait_started(30)
            deadline = time.monotonic() + 30
            history = run_dir / "history.jsonl"
            while time.monotonic() < deadline and len(read_complete(history).records) < expected_lines:
                time.sleep(0.2)
        finally:
            assert handle.stop(timeout=15) == 0, handle.error
    assert all(p.popen.returncode is not None for p in handle.procs)
    records = {r["op"]: r for r in read_complete(run_dir / "history.jsonl").records}
    assert len(records) == expected_lines, sorted(records)
    for client in ("fast", "req"):
        for case, (outcome, error) in EXPECTED.items():
            rec = records[f"{client}:{case}"]
            assert (rec["outcome"], rec["error"]) == (outcome, error), (client, case, rec)
        reset = records[f"{client}:reset"]
        assert reset["outcome"] == INFO and reset["error"] in ("ConnectionReset", "ConnectionClosed"), reset
        assert records[f"{client}:slow"]["complete"] - records[f"{client}:slow"]["invoke"] < SLOW_S
    created = records["fast:created"]
    assert created["status"] == 201 and created["replica"] == "api9" and created["key"] == "k-created"
    assert created["order_id"] == 7 and created["ticket_ids"] == [70, 71] and created["seats"] == [3, 4]
    assert records["fast:conflict"]["status"] == 409 and records["fast:refused"]["status"] is None
    assert records["/plain"]["outcome"] == OK and records["/plain"]["worker"] == "w0"
    for rec in records.values():
        assert rec["complete"] >= rec["invoke"] > 1e9 and round(rec["invoke"], 3) == rec["invoke"]
