"""Every HTTP client of the harness connects directly, whatever proxy the environment names.

A CI runner may set HTTP_PROXY / ALL_PROXY; loopback traffic (audit logins with derived passwords, bearer
tokens) must never reach it. Here the "proxy" is a socket on 127.0.0.1 that records every connection, the
system under test a fake HTTP server on 127.0.0.1, and each client must reach the server with the trap
untouched (and without credentials from a .netrc).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from drills.load.config import LoadConfig
from drills.load.runner import _env, check_target
from drills.platform import haproxy, http, patroni
from drills.platform.ticketing import TicketingClient
from drills.platform.toxiproxy import ToxiproxyClient
from drills.probes.sampler import ProbeSampler

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")

PROXY = {"name": "api1_db", "listen": "0.0.0.0:15001", "upstream": "haproxy:5432", "enabled": True, "toxics": []}
ROUTES: dict[tuple[str, str], tuple[int, object]] = {
    ("GET", "/healthz"): (200, {"status": "ok"}),
    ("GET", "/readyz"): (200, {"ready": True}),
    ("GET", "/cluster"): (200, {"members": [{"name": "pg1", "role": "leader", "state": "running", "timeline": 1}]}),
    ("GET", "/patroni"): (200, {"state": "running", "timeline": 1, "replication": []}),
    ("GET", "/config"): (200, {"synchronous_mode": True}),
    ("GET", "/;csv"): (200, "# pxname,svname,status\napi,api1,UP\npostgres,pg1,UP\n"),
    ("GET", "/version"): (200, {"version": "2.12.0"}),
    ("GET", "/proxies"): (200, {"api1_db": PROXY}),
    ("GET", "/proxies/api1_db/toxics"): (200, [{"name": "drills-x", "type": "latency"}]),
    ("POST", "/proxies/api1_db/toxics"): (200, {"name": "drills-x"}),
    ("DELETE", "/proxies/api1_db/toxics/drills-x"): (204, None),
    ("POST", "/proxies/api1_db"): (200, PROXY),
    ("POST", "/reset"): (204, None),
    ("POST", "/users"): (201, {"user_id": 1}),
    ("POST", "/sessions"): (201, {"token": "tok"}),
    ("GET", "/me"): (200, {"user_id": 1}),
    ("GET", "/events"): (200, [{"id": 1, "name": "hot", "capacity": 10}]),
    ("POST", "/events/1/purchases"): (201, {"order_id": 1}),
    ("GET", "/audit/orders"): (200, {"items": [{"id": 1}], "next_after": None}),
}


class ProxyTrap:
    """A listening socket that records (and drops) every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[tuple[str, int]] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.connections.append(peer)
            conn.close()

    def close(self) -> None:
        self.sock.close()


class FakeServer:
    """The system under test: answers ROUTES and records what it was asked."""

    def __init__(self) -> None:
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                seen.append((self.command, path, dict(self.headers)))
                status, body = ROUTES.get((self.command, path), (404, {"error": "not_found"}))
                data = b"" if body is None else (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def trap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ProxyTrap]:
    t = ProxyTrap()
    for var in PROXY_VARS:
        monkeypatch.setenv(var, t.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login leaked password from-netrc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    yield t
    t.close()


@pytest.fixture()
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.close()


def _direct(trap: ProxyTrap, server: FakeServer, *paths: str) -> None:
    assert trap.connections == [], "a client went through the proxy from the environment"
    asked = [p for _, p, _ in server.seen]
    for path in paths:
        assert path in asked, f"the server was never asked {path} (asked: {asked})"
    leaked = [p for _, p, h in server.seen if h.get("Authorization", "").startswith("Basic ")]
    assert leaked == [], f".netrc credentials were sent on {leaked}"


def test_the_trap_catches_a_client_that_trusts_the_environment(trap: ProxyTrap, server: FakeServer) -> None:
    import requests

    with pytest.raises(requests.RequestException):
        requests.get(server.url + "/healthz", timeout=2)  # the counter-example: trusts the environment
    assert trap.connections, "the test's proxy trap does not work"


def test_the_home_session_connects_directly(trap: ProxyTrap, server: FakeServer) -> None:
    assert http.get(server.url + "/healthz", timeout=2).status_code == 200
    with http.session() as s:
        assert s.post(server.url + "/reset", timeout=2).status_code == 204
    _direct(trap, server, "/healthz", "/reset")


def test_ticketing_client_connects_directly(trap: ProxyTrap, server: FakeServer) -> None:
    api = TicketingClient(server.url, timeout=2, audit_token="audit-tok")
    assert api.register("alice", "correct horse").status == 201
    token = api.login("alice", "correct horse").body["token"]
    assert api.me(token).ok and api.events() and api.purchase(token, 1, quantity=1).ok
    assert list(api.audit("orders")) == [{"id": 1}]
    _direct(trap, server, "/users", "/sessions", "/me", "/events", "/events/1/purchases", "/audit/orders")
    audit_headers = [h for _, p, h in server.seen if p == "/audit/orders"]
    assert audit_headers[0]["Authorization"] == "Bearer audit-tok"


def test_patroni_haproxy_and_probes_connect_directly(trap: ProxyTrap, server: FakeServer) -> None:
    members = patroni.cluster_from_any([server.url])
    assert members and patroni.leaders(members) == ["pg1"]
    assert patroni.node_status(server.url) is not None
    assert patroni.synchronous_mode([server.url]) is True
    assert haproxy.server_states(server.url) == {("api", "api1"): "UP", ("postgres", "pg1"): "UP"}
    view = SimpleNamespace(patroni_urls={"pg1": server.url}, nodes={}, label_filter=None, client=None)
    sample = ProbeSampler(view, writer=None, haproxy_stats_url=server.url).sample()  # type: ignore[arg-type]
    assert sample["leader"] == "pg1"
    _direct(trap, server, "/cluster", "/patroni", "/config", "/;csv")


def test_toxiproxy_client_connects_directly(trap: ProxyTrap, server: FakeServer) -> None:
    tox = ToxiproxyClient(server.url, timeout=2)
    assert tox.version() == "2.12.0"
    assert set(tox.proxies()) == {"api1_db"}
    tox.add_toxic("api1_db", "drills-x", "latency", {"latency": 100})
    assert tox.remove_toxic("api1_db", "drills-x") is True
    tox.set_enabled("api1_db", False)
    tox.reset()
    _direct(trap, server, "/version", "/proxies", "/proxies/api1_db/toxics", "/proxies/api1_db", "/reset")


def test_the_loads_target_check_connects_directly(trap: ProxyTrap, server: FakeServer) -> None:
    check_target(server.url, http_health=True, timeout=2)
    _direct(trap, server, "/healthz")


def test_locust_processes_get_no_proxy_from_the_environment(trap: ProxyTrap, tmp_path: Path) -> None:
    env = _env(LoadConfig(api_url="http://127.0.0.1:1", run_dir=str(tmp_path), seed=0, duration=1.0), "secret")
    assert not {v for v in PROXY_VARS if v in env}
    assert env["DRILLS_RUN_SECRET"] == "secret" and os.environ["HTTP_PROXY"] == trap.url  # ours stays as it was


FAST_HTTP = """
import sys
from locust.contrib.fasthttp import FastHttpSession
from locust.event import EventHook
session = FastHttpSession(base_url=sys.argv[1], request_event=EventHook(), user=None)
print(session.get("/healthz").status_code)
"""


def test_the_builtin_workloads_client_ignores_proxies_even_when_set(trap: ProxyTrap, server: FakeServer) -> None:
    """The built-in TicketBuyer is a FastHttpUser (geventhttpclient): it uses a proxy only when told in code.
    Run with the proxy variables still set (a user's own environment), in its own process (gevent)."""
    proc = subprocess.run([sys.executable, "-c", FAST_HTTP, server.url], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "200"
    _direct(trap, server, "/healthz")
