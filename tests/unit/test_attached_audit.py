"""An attached system's declared audit over real HTTP on loopback: the pre-flight refuses a drill whose final read
does not answer, and after the drill the collections land in final-state.json for the checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from drills.checks.finalstate import FinalState
from drills.errors import ExitCode, PreconditionFailed
from drills.platform.system import AttachedSystem
from drills.scenario import scenario_from_dict

ORDERS = [{"id": f"o-{n}", "item": "x"} for n in range(1, 8)]


class Orders(BaseHTTPRequestHandler):
    """GET /orders?cursor=C&limit=N -> {items, next}; anything else 404."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        if url.path != "/orders":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b"no such route")
            return
        q = parse_qs(url.query)
        cursor, limit = (q.get("cursor") or [""])[0], int((q.get("limit") or ["3"])[0])
        rest = [o for o in ORDERS if o["id"] > cursor]
        page = rest[:limit]
        body = {"items": page, "next": page[-1]["id"] if len(rest) > limit else None}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Orders)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def system(api: str, url: str = "/orders") -> AttachedSystem:
    s = scenario_from_dict({
        "name": "t", "stack": {"attach": {"api_url": api}}, "load": {"locustfile": "shop.py"},
        "audit": {"writes": {"create_order": "key"},
                  "read": {"orders": {"http": {"url": url, "items": "items", "next": "next",
                                               "cursor_param": "cursor", "limit_param": "limit", "page_size": 3}}},
                  "models": [{"model": "set", "collection": "orders", "id": "id"}]}})
    assert s.audit is not None
    return AttachedSystem(None, s.stack, s.audit)  # type: ignore[arg-type]  # no Docker needed for the audit


def test_the_pre_flight_refuses_a_final_read_that_does_not_answer(api: str) -> None:
    logged: list[str] = []
    with pytest.raises(PreconditionFailed) as exc:
        system(api, url="/order")._check_audit(logged.append)
    assert exc.value.exit_code == ExitCode.PRECONDITION
    assert f"audit.read.orders: GET {api}/order answered 404: 'no such route'" in exc.value.message
    system(api)._check_audit(logged.append)
    assert logged == ["audit: 1 collection(s) answer"]


def test_the_final_read_writes_every_page_into_final_state(api: str, tmp_path: Path) -> None:
    system(api).read_final_state(tmp_path)
    state = FinalState.from_json(json.loads((tmp_path / "final-state.json").read_text()))
    orders = state.collection("orders")
    assert state.declared and state.complete and orders is not None
    assert orders.columns["id"] == [o["id"] for o in ORDERS] and orders.source == f"GET {api}/orders"
