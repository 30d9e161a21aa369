"""The example order service: a small HTTP API over Redis, which it finds through Redis Sentinel.

It is written the way such services usually are, not to lose data on purpose: redis-py's Sentinel client, a
connection pool that is kept (connections are made once and reused), writes acknowledged as soon as the master
acknowledged them. Redis replicates asynchronously, so when the master is cut off from its replica and from the
Sentinels while this service still reaches it, the service keeps writing to the old master on its pooled
connections; Sentinel promotes the replica, and when the partition heals it turns the old master into a replica
of the new one, which throws away everything written to it meanwhile (Jepsen's Redis Sentinel finding). The
drills in ../../scenarios/ catch exactly those lost acknowledged orders; README.md says what would fix it.

Endpoints (JSON):
  POST /orders {"id": ID, "item": TEXT}  -> 201 {"id"} (200 {"id", "replayed": true} when the id exists)
  GET  /orders?cursor=C&limit=N          -> {"items": [{"id", "item", "created"}], "next": C | null}
                                            every order exactly once, in id order, however many pages
  GET  /readyz                           -> 200 when Sentinel names a master, this service's pool writes to
                                            that master, and it takes a write; else 503
  GET  /healthz                          -> 200 (the process answers)
Errors say whether the write can have happened, in the form drills' classifier reads: a definite failure is
`{"error": ..., "outcome": "fail"}`; an unknown fate is 503 with `X-Outcome: indeterminate`.

Only the standard library and python3-redis (Debian's, 4.3): the image cannot reach PyPI.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.sentinel import MasterNotFoundError, Sentinel

MASTER_NAME = os.environ.get("MASTER_NAME", "mymaster")
SENTINEL_HOST = os.environ.get("SENTINEL_HOST", "sentinel")      # a compose service: one address per replica
SENTINEL_PORT = int(os.environ.get("SENTINEL_PORT", "26379"))
PORT = int(os.environ.get("PORT", "8000"))
CONNECTIONS = int(os.environ.get("REDIS_CONNECTIONS", "8"))      # at most this many Redis commands at once
PAGE_DEFAULT, PAGE_MAX = 500, 1000
DATA, INDEX = "orders:data", "orders:index"                      # hash id -> order JSON; sorted set of ids
ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")                  # also a safe ZRANGEBYLEX cursor
ITEM_MAX = 256
SENTINEL_REFRESH_S = 5.0
# redis-py turns a READONLY answer of a demoted master into this ConnectionError: the write was refused.
DEMOTED = "The previous master is now a slave"


def log(message: str) -> None:
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} {message}\n")  # one write: threads do not interleave
    sys.stderr.flush()


class Store:
    """The Sentinel client and the master's connection pool, shared by every request thread."""

    def __init__(self) -> None:
        self.sentinel = Sentinel(self._sentinel_addresses() or [(SENTINEL_HOST, SENTINEL_PORT)],
                                 socket_timeout=0.5, socket_connect_timeout=0.5)
        self.master = self.sentinel.master_for(MASTER_NAME, socket_timeout=2.0, socket_connect_timeout=1.0,
                                               max_connections=CONNECTIONS * 2)
        self.slots = threading.BoundedSemaphore(CONNECTIONS)    # so the pool never needs more connections
        self._known: list[tuple[str, int]] = []
        threading.Thread(target=self._follow_sentinels, daemon=True).start()

    @staticmethod
    def _sentinel_addresses() -> list[tuple[str, int]]:
        """Every Sentinel behind the service name (Docker's DNS answers one address per replica)."""
        try:
            infos = socket.getaddrinfo(SENTINEL_HOST, SENTINEL_PORT, socket.AF_INET, socket.SOCK_STREAM)
        except OSError:
            return []
        return sorted({(str(info[4][0]), SENTINEL_PORT) for info in infos})

    def _follow_sentinels(self) -> None:
        """A Sentinel started again may have a new address: look the replicas up again every few seconds."""
        while True:
            found = self._sentinel_addresses()
            if found and found != self._known:
                fresh = Sentinel(found, socket_timeout=0.5, socket_connect_timeout=0.5)
                self.sentinel.sentinels = fresh.sentinels   # discover_master reads this list
                self._known = found
                log(f"sentinels: {', '.join(f'{h}:{p}' for h, p in found)}")
            time.sleep(SENTINEL_REFRESH_S)

    def pool_master(self) -> tuple[str, int] | None:
        """The master this service's pooled connections write to (set when a connection is made)."""
        return getattr(self.master.connection_pool, "master_address", None)

    def create(self, order_id: str, item: str) -> bool:
        """Store the order once; True when it is new, False when the id was there already."""
        record = json.dumps({"id": order_id, "item": item, "created": round(time.time(), 3)})
        with self.slots:
            pipe = self.master.pipeline(transaction=True)
            pipe.hsetnx(DATA, order_id, record)
            pipe.zadd(INDEX, {order_id: 0})
            created, _ = pipe.execute()
        return bool(created)

    def page(self, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """One page of orders after `cursor` (exclusive), in id order: every order exactly once."""
        with self.slots:
            ids = self.master.zrangebylex(INDEX, f"({cursor}" if cursor else "-", "+", start=0, num=limit)
            values = self.master.hmget(DATA, ids) if ids else []
        items = []
        for raw_id, raw in zip(ids, values, strict=True):
            oid = raw_id.decode()
            try:
                order = json.loads(raw) if raw is not None else {"id": oid}
            except ValueError:
                order = {"id": oid}
            items.append(order)
        return items, (ids[-1].decode() if len(ids) == limit else None)

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Ready when Sentinel names a master, the pool writes to that master and it takes a write."""
        try:
            named = self.sentinel.discover_master(MASTER_NAME)
        except MasterNotFoundError:
            return False, {"error": "no_master", "detail": "no Sentinel names a master"}
        try:
            with self.slots:
                self.master.set("orders:readyz", str(time.time()), ex=60)
        except RedisError as exc:
            return False, {"error": "master_refuses_writes", "detail": str(exc)[:200], "master": _addr(named)}
        pooled = self.pool_master()
        if pooled is not None and tuple(pooled) != tuple(named):
            return False, {"error": "stale_master", "master": _addr(named), "pool": _addr(pooled),
                           "detail": "the pooled connections still write to a master Sentinel no longer names"}
        return True, {"master": _addr(named)}


def _addr(address: Any) -> str:
    host, port = address
    return f"{host}:{port}"


def write_error(exc: RedisError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers for a write that raised: refused for sure, or of unknown fate."""
    if isinstance(exc, MasterNotFoundError):
        return 503, {"error": "no_master", "outcome": "fail"}, {}
    if isinstance(exc, RedisConnectionError) and DEMOTED in str(exc):
        return 503, {"error": "master_demoted", "outcome": "fail"}, {}
    if isinstance(exc, ResponseError) and str(exc).startswith(("READONLY", "EXECABORT")):
        return 503, {"error": "read_only", "outcome": "fail"}, {}
    # Timeouts, lost connections, anything else: the master may have applied it before the error.
    kind = "timeout" if isinstance(exc, RedisTimeoutError) else type(exc).__name__
    return 503, {"error": "indeterminate", "detail": f"{kind}: {str(exc)[:200]}"}, {"X-Outcome": "indeterminate"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"    # keep-alive: the load generator reuses its connections
    server_version = "orders/1"
    store: Store                     # set before the server starts

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return  # no access log: thousands of lines a second under load

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > 65536:
            self.close_connection = True   # the unread body would be taken for the next request
            return None
        if length == 0:
            return None
        try:
            return json.loads(self.rfile.read(length))
        except ValueError:
            return None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        path = urlsplit(self.path).path
        if path != "/orders":
            self._body()
            self._send(404, {"error": "not_found", "outcome": "fail"})
            return
        body = self._body()
        order_id = body.get("id") if isinstance(body, dict) else None
        item = body.get("item", "") if isinstance(body, dict) else None
        if not isinstance(order_id, str) or not ID_RE.match(order_id):
            self._send(400, {"error": "bad_id", "outcome": "fail",
                             "detail": "expected a JSON body with an id of 1-128 letters, digits, '.', '_', ':', '-'"})
            return
        if not isinstance(item, str) or len(item) > ITEM_MAX:
            self._send(400, {"error": "bad_item", "outcome": "fail",
                             "detail": f"expected an item of at most {ITEM_MAX} characters"})
            return
        try:
            created = self.store.create(order_id, item)
        except RedisError as exc:
            self._send(*write_error(exc))
            return
        if created:
            self._send(201, {"id": order_id})
        else:
            self._send(200, {"id": order_id, "replayed": True})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._send(200, {"status": "ok"})
        elif url.path == "/readyz":
            ok, detail = self.store.ready()
            self._send(200 if ok else 503, {"status": "ready" if ok else "not_ready", **detail,
                                            **({} if ok else {"outcome": "fail"})})
        elif url.path == "/orders":
            self._list(parse_qs(url.query))
        else:
            self._send(404, {"error": "not_found", "outcome": "fail"})

    def _list(self, query: dict[str, list[str]]) -> None:
        cursor = (query.get("cursor") or [""])[-1] or None
        raw_limit = (query.get("limit") or [str(PAGE_DEFAULT)])[-1]
        if cursor is not None and not ID_RE.match(cursor):
            self._send(400, {"error": "bad_cursor", "outcome": "fail", "detail": "expected a cursor from 'next'"})
            return
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= PAGE_MAX:
            self._send(400, {"error": "bad_limit", "outcome": "fail", "detail": f"expected a limit of 1-{PAGE_MAX}"})
            return
        try:
            items, nxt = self.store.page(cursor, int(raw_limit))
        except RedisError as exc:
            self._send(503, {"error": "unavailable", "outcome": "fail", "detail": str(exc)[:200]})
            return
        self._send(200, {"items": items, "next": nxt})


def main() -> None:
    Handler.store = Store()
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True
    # PID 1 in its container: without a handler SIGTERM would be ignored and `docker stop` would wait 10 s.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    log(f"orders listening on :{PORT}, master '{MASTER_NAME}' through Sentinel at {SENTINEL_HOST}:{SENTINEL_PORT}")
    server.serve_forever()
    log("orders stopped")


if __name__ == "__main__":
    main()
