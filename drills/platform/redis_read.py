"""An audit collection from a loopback Redis, over RESP with the standard library (no client library to install).

One key is read by its type: a set, list or sorted set gives its members (a sorted set: {member, score}), a hash
{field, value} items, a string one item; a key that does not exist is an empty collection (everything written to
it was lost). `scan` reads every key matching a pattern as {key, value} items. With `json`, string values are
parsed as JSON. Only read commands are sent (AUTH and SELECT aside).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from drills.platform.audit_source import ReadFailed, expand, shown
from drills.scenario.audit_section import RedisRead

TIMEOUT_S = 10.0
SCAN_COUNT = 1000


class RespError(ReadFailed):
    """Redis answered with an error."""


class Resp:
    """A minimal RESP2 connection: one command at a time."""

    def __init__(self, host: str, port: int, timeout: float = TIMEOUT_S) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.file = self.sock.makefile("rb")

    def __enter__(self) -> Resp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def call(self, *args: str | int) -> Any:
        parts = [str(a).encode() for a in args]
        self.sock.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        return self._reply()

    def _reply(self) -> Any:
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise ReadFailed("the Redis connection closed mid-reply")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(f"Redis: {rest.decode(errors='replace')}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)
            return data[:-2].decode("utf-8", errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ReadFailed(f"Redis answered something that is not RESP: {shown(line[:40])}")


def connect(src: RedisRead, env: Mapping[str, str]) -> Resp:
    """A connection to the scenario's Redis, authenticated and on its database."""
    url = urlsplit(expand(src.url, env))
    conn = Resp(url.hostname or "127.0.0.1", url.port or 6379)
    try:
        if url.password is not None:
            user = unquote(url.username or "")
            conn.call(*(("AUTH", user, unquote(url.password)) if user else ("AUTH", unquote(url.password))))
        db = url.path.strip("/")
        if db:
            conn.call("SELECT", db)
    except BaseException:
        conn.close()
        raise
    return conn


def ping(src: RedisRead, env: Mapping[str, str]) -> None:
    with connect(src, env) as conn:
        conn.call("PING")


def redis_items(src: RedisRead, env: Mapping[str, str]) -> Iterator[Any]:
    """Every item of the key (or of the keys matching the scan)."""
    with connect(src, env) as conn:
        if src.key is not None:
            yield from _key_items(conn, src.key, src.json)
        else:
            yield from _scan_items(conn, src.scan or "*", src.json)


def redis_pages(src: RedisRead, env: Mapping[str, str], size: int = 5000) -> Iterator[list]:
    """redis_items() in pages (lists) of `size`."""
    page: list = []
    for item in redis_items(src, env):
        page.append(item)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


def _key_items(conn: Resp, key: str, as_json: bool) -> Iterator[Any]:
    kind = conn.call("TYPE", key)
    if kind == "none":
        return
    if kind == "string":
        yield _parsed(conn.call("GET", key), as_json, key)
    elif kind == "set":
        for m in conn.call("SMEMBERS", key):
            yield _parsed(m, as_json, key)
    elif kind == "list":
        for m in conn.call("LRANGE", key, 0, -1):
            yield _parsed(m, as_json, key)
    elif kind == "zset":
        flat = conn.call("ZRANGE", key, 0, -1, "WITHSCORES")
        for member, score in zip(flat[::2], flat[1::2], strict=False):
            yield {"member": _parsed(member, as_json, key), "score": float(score)}
    elif kind == "hash":
        flat = conn.call("HGETALL", key)
        for f, v in zip(flat[::2], flat[1::2], strict=False):
            yield {"field": f, "value": _parsed(v, as_json, key)}
    else:
        raise ReadFailed(f"the key {key!r} is a Redis {kind}: drills reads sets, lists, sorted sets, hashes and "
                         "strings")


def _scan_items(conn: Resp, pattern: str, as_json: bool) -> Iterator[dict[str, Any]]:
    cursor, seen = "0", set()
    while True:
        cursor, keys = conn.call("SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT)
        for key in keys:
            if key in seen:   # SCAN may return a key twice
                continue
            seen.add(key)
            kind = conn.call("TYPE", key)
            if kind == "string":
                yield {"key": key, "value": _parsed(conn.call("GET", key), as_json, key)}
            elif kind == "hash":
                flat = conn.call("HGETALL", key)
                yield {"key": key, "value": {f: _parsed(v, as_json, key) for f, v in zip(flat[::2], flat[1::2],
                                                                                       strict=False)}}
            elif kind in ("set", "list", "zset"):
                yield {"key": key, "value": list(_key_items(conn, key, as_json))}
        if cursor == "0":
            return


def _parsed(value: Any, as_json: bool, key: str) -> Any:
    if not as_json or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ReadFailed(f"a value of {key!r} is not JSON: {shown(value)}") from None
