"""A whole drill attached to a user's own service with a declared audit: a small order API served by this test on
loopback acknowledges every order but silently drops every seventh; the drill's own locustfile places orders,
the final read pages them back, and the audit must name exactly the dropped orders as lost, by id, and read the
id the API answered (`response.n`) into the history as it happens. No container is started."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest

from drills.checks.regenerate import RESULT_SCHEMA

pytestmark = pytest.mark.integration

LOCUSTFILE = '''
import uuid
from locust import HttpUser, between, task

class Buyer(HttpUser):
    wait_time = between(0.05, 0.1)

    def on_start(self):
        self.prefix, self.n = uuid.uuid4().hex[:8], 0

    @task
    def order(self):
        self.n += 1
        key = f"{self.prefix}-{self.n:05d}"
        self.client.post("/orders", json={"id": key}, name="/orders", context={"op": "create_order", "key": key})
'''

SCENARIO = '''
name: declared-audit-drill
expect: fail
stack:
  attach:
    api_url: {api}
phases: {{warmup: 2s, steady: 6s, recovery: 2s}}
load:
  locustfile: shop.py
  profile: {{type: constant_users, users: 4, spawn_rate: 4}}
audit:
  writes:
    create_order: {{id: key, server_id: response.n}}
  read:
    orders:
      http: {{url: /orders, items: items, next: next, cursor_param: cursor, limit_param: limit, page_size: 25}}
  models:
    - {{model: set, collection: orders, id: id, server_id: n}}
    - {{model: unique, collection: orders, fields: [n]}}
budgets:
  - {{metric: lost, op: create_order, max: 0}}
  - {{metric: unique_violations, op: create_order, max: 0}}
'''


class Shop:
    """Orders by id; every seventh acknowledged order is dropped (acknowledged, never stored)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stored: dict[str, int] = {}
        self.dropped: list[str] = []
        self.seq = 0


def handler(shop: Shop) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with shop.lock:
                shop.seq += 1
                n = shop.seq
                if n % 7 == 0:
                    shop.dropped.append(body["id"])
                else:
                    shop.stored[body["id"]] = n
            self._send(201, {"id": body["id"], "n": n})

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlsplit(self.path)
            if url.path in ("/", "/readyz"):
                self._send(200, {"ok": True})
                return
            q = parse_qs(url.query)
            cursor, limit = (q.get("cursor") or [""])[0], int((q.get("limit") or ["10"])[0])
            with shop.lock:
                rest = sorted(k for k in shop.stored if k > cursor)
                page = [{"id": k, "n": shop.stored[k]} for k in rest[:limit]]
            self._send(200, {"items": page, "next": page[-1]["id"] if len(rest) > limit else None})
    return Handler


@pytest.fixture
def shop() -> Iterator[tuple[Shop, str]]:
    s = Shop()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(s))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield s, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_audit_names_the_lost_acknowledged_orders(shop: tuple[Shop, str], tmp_path: Path) -> None:
    s, api = shop
    (tmp_path / "shop.py").write_text(LOCUSTFILE)
    scenario = tmp_path / "declared-audit-drill.yaml"
    scenario.write_text(SCENARIO.format(api=api))
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "drills", "run", str(scenario), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    result = json.loads((out / "result.json").read_text())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]   # expect: fail, and it failed
    errors = [e.message for e in jsonschema.Draft202012Validator(json.loads(RESULT_SCHEMA.read_text()))
              .iter_errors(result)]
    assert not errors, errors[:5]
    a = result["audit"]
    assert a["final_state"] == "complete" and a["errors"] == []
    assert a["lost"] == len(s.dropped) > 0 and a["unexpected"] == 0 and a["unique_violations"] == 0
    assert a["acknowledged"] == len(s.dropped) + len(s.stored)
    lost = {x["id"] for x in a["samples"]["lost"]}
    assert lost <= set(s.dropped) and len(lost) == min(20, len(s.dropped))
    assert all(isinstance(x["response.n"], int) and x["response.n"] % 7 == 0 for x in a["samples"]["lost"])
    lost_budget = next(b for b in result["budgets"] if b["metric"] == "lost")
    assert lost_budget["passed"] is False and result["verdict"] == "fail" and result["self_test_passed"]
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert all("response.n" in h for h in history if h["op"] == "create_order" and h["outcome"] == "ok")
    state = json.loads((out / "final-state.json").read_text())
    assert state["audit"] == "declared" and state["counts"] == {"orders": len(s.stored)}
    # re-judged from the files alone (drill report), the same counts
    again = subprocess.run([sys.executable, "-m", "drills", "report", str(out)], capture_output=True,
                           text=True, timeout=120)
    assert again.returncode in (0, 1), again.stderr[-2000:]
    assert json.loads((out / "result.json").read_text())["audit"]["lost"] == a["lost"]
