"""The built-in workload for real, without Docker: a master and two workers against a small in-memory fake of
the ticketing API on 127.0.0.1. It proves that the run state each Locust process wires onto its Environment
(config, worker name, run secret, recorder, rate gate, shape) reaches the buyers, and what the history says."""

from __future__ import annotations

import collections
import hashlib
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from drills.load.runner import start_load
from drills.rundir.passwords import derive_password
from drills.rundir.tolerant import read_complete
from drills.scenario.model import LoadProfile, LoadSection, Phases

RATE, MAX_USERS, WORKERS, STEADY_S = 30.0, 10, 2, 5.0
HOT_CAPACITY = 500


class FakeApi(BaseHTTPRequestHandler):
    """Users, sessions revoked by a rotation, events and purchases with idempotency keys; every 20th new
    purchase answers 503 indeterminate without committing (the buyer retries it with the same key)."""

    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    users: dict[str, list[Any]] = {}          # name -> [password, credential version]
    registered: dict[str, str] = {}           # name -> the password it registered with
    tokens: dict[str, tuple[str, int]] = {}   # token -> (name, version)
    orders: dict[str, dict] = {}              # idempotency key -> order
    sold: set[int] = set()
    purchases = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/healthz":
            return self._send(200, {"status": "ok"})
        if self.path == "/events":
            return self._send(200, [{"id": 1, "name": "hot", "capacity": HOT_CAPACITY},
                                    {"id": 2, "name": "cold", "capacity": 100}])
        if re.fullmatch(r"/events/\d+", self.path):
            return self._send(200, {"id": int(self.path.rsplit("/", 1)[1])})
        if self.path == "/me":
            with self.lock:
                return self._send(200, {}) if self._session() else self._send(401, {"error": "unauthorized"})
        self._send(404, {"error": "not_found", "outcome": "fail"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with self.lock:
            self._post(body)

    def _post(self, body: dict) -> None:
        cls = type(self)
        if self.path == "/users":
            if body["username"] in cls.users:
                return self._send(409, {"error": "username_taken"})
            cls.users[body["username"]] = [body["password"], 1]
            cls.registered[body["username"]] = body["password"]
            return self._send(201, {"username": body["username"], "credential_version": 1})
        if self.path == "/sessions":
            user = cls.users.get(body["username"])
            if user is None or user[0] != body["password"]:
                return self._send(401, {"error": "invalid_credentials"})
            return self._send(201, self._new_session(body["username"], user[1]))
        session = self._session()
        if session is None:
            return self._send(401, {"error": "unauthorized"})
        if self.path == "/users/me/password":
            user = cls.users[session[0]]
            if user[0] != body["old_password"]:
                return self._send(401, {"error": "invalid_credentials"})
            user[0], user[1] = body["new_password"], user[1] + 1
            return self._send(200, self._new_session(session[0], user[1]))
        key = self.headers.get("Idempotency-Key") or ""
        if key in cls.orders:
            return self._send(200, cls.orders[key], {"Idempotent-Replayed": "true"})
        cls.purchases += 1
        if cls.purchases % 20 == 0:
            return self._send(503, {"error": "indeterminate"})
        seats = body.get("seats") or [s for s in range(1, HOT_CAPACITY + 1) if s not in cls.sold][:body["quantity"]]
        taken = [s for s in seats if s in cls.sold]
        if taken:
            return self._send(409, {"error": "seats_unavailable", "unavailable": taken})
        cls.sold.update(seats)
        order = cls.orders[key] = {"order_id": len(cls.orders) + 1, "seats": seats, "ticket_ids": seats}
        self._send(201, order)

    def _session(self) -> tuple[str, int] | None:
        """The session of the bearer token, if its credential version is still the user's."""
        auth = self.headers.get("Authorization") or ""
        session = type(self).tokens.get(auth.removeprefix("Bearer "))
        return session if session and type(self).users[session[0]][1] == session[1] else None

    def _new_session(self, name: str, version: int) -> dict:
        token = secrets.token_hex(8)
        type(self).tokens[token] = (name, version)
        return {"token": token, "credential_version": version}

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def test_builtin_workload_with_two_workers_at_an_arrival_rate(tmp_path: Path) -> None:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    load = LoadSection(profile=LoadProfile(type="arrival_rate", rate=RATE, max_users=MAX_USERS, spawn_rate=50),
                       workers=WORKERS, mix={"purchase": 50, "browse": 20, "rotate_password": 15, "login": 15})
    run, secret = tmp_path / "run", "s3cret"
    try:
        handle = start_load(load, Phases(warmup=0, steady=30, recovery=0),
                            f"http://127.0.0.1:{httpd.server_address[1]}", run, secret, seed=7)
        try:
            handle.wait_started(60)
            time.sleep(STEADY_S)
            assert handle.alive(), handle.error
        finally:
            assert handle.stop(timeout=20) == 0, handle.error
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert handle.error is None

    # Config, worker name and run secret reached the buyers: names, keys and passwords say so.
    tag = hashlib.sha256(f"{secret}:7:{run}".encode()).hexdigest()[:6]
    records = {w: read_complete(run / f"history-{w}.jsonl").records for w in ("w0", "w1")}
    for worker, lines in records.items():
        assert lines and {r["worker"] for r in lines} == {worker}
        assert all(re.fullmatch(rf"u-{tag}-{worker}-\d+", r["user"]) for r in lines), lines[0]
    assert FakeApi.registered and all(pw == derive_password(secret, name, 1) for name, pw in FakeApi.registered.items())
    everything = records["w0"] + records["w1"]
    ops = collections.Counter((r["op"], r["outcome"]) for r in everything)
    for op in ("register", "login", "browse", "purchase", "rotate_password", "verify_password"):
        assert ops[(op, "ok")] > 0, ops
    assert not [r for r in everything if r["op"] == "verify_password" and r["outcome"] != "ok"]

    # The recorder saw every purchase announced and retried with the same key, attempt by attempt.
    attempts: dict[str, list[int]] = collections.defaultdict(list)
    for r in everything:
        if r["op"] == "purchase":
            assert re.fullmatch(rf"{tag}-{r['worker']}-\d+\.\d+-\d+", r["key"]), r
            attempts[r["key"]].append(r["attempt"])
    assert all(sorted(a) == list(range(1, len(a) + 1)) for a in attempts.values())
    assert any(len(a) > 1 for a in attempts.values()), "the fake's 503s are retried"

    # The gate offered each worker's share of the rate; the shape spread the pool over the workers.
    stats = read_complete(run / "stats.jsonl").records
    for worker in ("w0", "w1"):
        mine = [s for s in stats if s["worker"] == worker]
        assert {s["target_rate"] for s in mine} == {RATE / WORKERS}
        assert max(s["users"] for s in mine) == MAX_USERS // WORKERS
        steady = mine[1:-1]
        tokens = sum(s["offered_rate"] + s["dropped"] for s in steady)  # what the gate released, started or not
        assert 0.6 * RATE / WORKERS * len(steady) <= tokens <= 1.6 * RATE / WORKERS * len(steady), steady
