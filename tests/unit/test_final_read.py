"""The declared final read: paginated JSON against a fake endpoint (no network), fields and their types, every
way a read can fail (and that it then says so instead of counting), Redis over RESP against a socket fake, the
pre-flight, and the load recording a write's identity from a body."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from drills.checks.finalstate import FinalState
from drills.load.locust_side.recorder import Recorder
from drills.platform import final_read
from drills.platform.audit_source import ReadFailed, expand
from drills.platform.redis_read import redis_items
from drills.scenario.audit_section import (
    AuditSection,
    FieldSpec,
    HttpRead,
    ReadSpec,
    RedisRead,
    SetModel,
    SqlRead,
    WriteSpec,
)

BASE = "http://127.0.0.1:8080"


class Pages:
    """A session whose GETs answer from `answer(url, params)` -> (status, body or raw text)."""

    def __init__(self, answer: Callable[[str, dict], tuple[int, Any]]) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict, dict]] = []

    def get(self, url: str, params: dict, headers: dict, timeout: float) -> requests.Response:
        self.calls.append((url, dict(params), dict(headers)))
        status, body = self.answer(url, dict(params))
        resp = requests.Response()
        resp.status_code = status
        resp._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        return resp

    def close(self) -> None:
        pass

    def __enter__(self) -> Pages:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def keyset(rows: list[dict], page: int = 2) -> Callable[[str, dict], tuple[int, Any]]:
    """Pages of `page` rows: {data: {rows: [...]}, cursor: <last id>|null}."""
    def answer(url: str, params: dict) -> tuple[int, Any]:
        after = int(params.get("after", 0))
        chunk = [r for r in rows if r["id"] > after][:page]
        more = chunk and chunk[-1]["id"] < rows[-1]["id"]
        return 200, {"data": {"rows": chunk}, "cursor": chunk[-1]["id"] if more else None}
    return answer


SPEC = ReadSpec("orders", HttpRead(url="/orders", items="data.rows", next="cursor", cursor_param="after",
                                   limit_param="limit", page_size=2, headers={"Authorization": "Bearer ${TOKEN}"}),
                {"key": FieldSpec("key"), "id": FieldSpec("id", "text"), "at": FieldSpec("at", "time"),
                 "n": FieldSpec("lines", "length"), "sku": FieldSpec("lines.0.sku")})
ROWS = [{"id": i, "key": f"k{i}", "at": f"2026-12-01T22:00:0{i}Z", "lines": [{"sku": f"s{i}"}]} for i in range(1, 6)]
ENV = {"TOKEN": "t0k"}


def read(answer: Callable[[str, dict], tuple[int, Any]], spec: ReadSpec = SPEC) -> tuple[Any, Pages]:
    pages = Pages(answer)
    return final_read.read_collection(spec, BASE, ENV, pages), pages  # type: ignore[arg-type]


def test_pages_are_followed_to_the_end_into_typed_columns() -> None:
    c, pages = read(keyset(ROWS))
    assert c.complete and c.error is None and c.rows == 5 and c.source == f"GET {BASE}/orders"
    assert c.columns["key"] == [f"k{i}" for i in range(1, 6)] and c.columns["id"] == ["1", "2", "3", "4", "5"]
    assert c.columns["at"][0] == 1796162401.0 and c.columns["n"] == [1] * 5 and c.columns["sku"][4] == "s5"
    assert [p for _, p, _ in pages.calls] == [{"limit": 2}, {"limit": 2, "after": "2"}, {"limit": 2, "after": "4"}]
    assert pages.calls[0][2] == {"Authorization": "Bearer t0k"}


def test_a_next_url_instead_of_a_cursor_parameter() -> None:
    spec = ReadSpec("o", HttpRead(url="/orders", items="items", next="links.next"), {"id": FieldSpec("id")})

    def answer(url: str, params: dict) -> tuple[int, Any]:
        page = int(url.rsplit("=", 1)[1]) if "page=" in url else 1
        return 200, {"items": [{"id": page}], "links": {"next": f"/orders?page={page + 1}" if page < 3 else None}}
    c, pages = read(answer, spec)
    assert c.complete and c.columns["id"] == [1, 2, 3]
    assert pages.calls[2][0] == f"{BASE}/orders?page=3"


def test_an_empty_page_with_a_cursor_reads_on() -> None:
    answers = iter([(200, {"items": [{"id": 1}], "next": "a"}), (200, {"items": [], "next": "b"}),
                    (200, {"items": [{"id": 2}]})])
    spec = ReadSpec("o", HttpRead(url="/o", items="items", next="next", cursor_param="c"), {"id": FieldSpec("id")})
    c, _ = read(lambda u, p: next(answers), spec)
    assert c.complete and c.columns["id"] == [1, 2]


def test_a_body_that_is_the_list_itself() -> None:
    spec = ReadSpec("o", HttpRead(url="/o"), {"id": FieldSpec("")})
    c, _ = read(lambda u, p: (200, ["a", "b"]), spec)
    assert c.complete and c.columns["id"] == ["a", "b"]


@pytest.mark.parametrize(("answer", "error"), [
    (lambda u, p: (404, "not found"), "GET http://127.0.0.1:8080/orders answered 404: 'not found'"),
    (lambda u, p: (200, "<html>"), "the body is not JSON"),
    (lambda u, p: (200, {"data": {}}), "expected a list of items at 'data.rows', found nothing there"),
    (lambda u, p: (200, {"data": {"rows": {"id": 1}}}), "expected a list of items at 'data.rows', found {'id': 1}"),
    (lambda u, p: (200, {"data": {"rows": [{"id": 1, "key": "k", "at": 0, "lines": []}]}}),
     "item 0 has no 'lines.0.sku' (field sku) (its keys: id, key, at, lines)"),
    (lambda u, p: (200, {"data": {"rows": [{"id": [1], "key": "k", "at": 0, "lines": [{"sku": 1}]}]}}),
     "item 0: 'id' (field id) is [1]: not text or a whole number"),
    (lambda u, p: (200, {"data": {"rows": [{"id": 1, "key": "k", "at": "noon", "lines": [{"sku": 1}]}]}}),
     "is 'noon': not a time"),
    (lambda u, p: (200, {"data": {"rows": [ROWS[0]]}, "cursor": 1}), "the next-page cursor '1' came back again"),
    (lambda u, p: (200, {"data": {"rows": [ROWS[0]]}, "cursor": [1]}), "is [1], not text or a number"),
])
def test_a_read_that_fails_says_where_and_keeps_what_it_read(answer: Callable, error: str) -> None:
    c, _ = read(answer)
    assert not c.complete and error in (c.error or "")


def test_a_refused_connection_is_an_incomplete_read() -> None:
    def answer(url: str, params: dict) -> tuple[int, Any]:
        raise requests.ConnectionError("refused")
    c, _ = read(answer)
    assert not c.complete and c.error == f"GET {BASE}/orders: ConnectionError: refused"


def test_a_next_url_off_loopback_is_refused() -> None:
    spec = ReadSpec("o", HttpRead(url="/o", items="items", next="next"), {"id": FieldSpec("id")})
    c, pages = read(lambda u, p: (200, {"items": [{"id": 1}], "next": "http://example.com/o?page=2"}), spec)
    assert not c.complete and "is not loopback" in (c.error or "") and len(pages.calls) == 1


def test_secrets_come_from_the_environment() -> None:
    assert expand("Bearer ${A}-${B}", {"A": "x", "B": "y"}) == "Bearer x-y"
    with pytest.raises(ReadFailed, match=r"\$\{B\} is not set"):
        expand("${B}", {})
    pages = Pages(keyset(ROWS))
    c = final_read.read_collection(SPEC, BASE, {}, pages)  # type: ignore[arg-type]
    assert not c.complete and "${TOKEN} is not set" in (c.error or "") and pages.calls == []


def test_the_declared_final_state_round_trips(tmp_path: Path) -> None:
    audit = AuditSection(writes={"w": WriteSpec("w")}, reads={"orders": SPEC, "broken": ReadSpec(
        "broken", HttpRead(url="/broken"), {"id": FieldSpec("id")})}, models=(SetModel("orders", id="key"),))

    def answer(url: str, params: dict) -> tuple[int, Any]:
        return keyset(ROWS)(url, params) if url.endswith("/orders") else (503, "down")
    state = final_read.read_final_state(audit, BASE, ENV, lambda: Pages(answer))  # type: ignore[arg-type,return-value]
    assert not state.complete and state.errors == [f"audit.read.broken: GET {BASE}/broken answered 503: 'down'"]
    doc = json.loads(json.dumps(state.to_json()))
    back = FinalState.from_json(doc)
    assert back.declared and back.damaged == {} and back.counts() == {"orders": 5, "broken": 0}
    orders = back.collection("orders")
    assert orders is not None and orders.columns["key"] == [f"k{i}" for i in range(1, 6)]
    assert doc["samples"]["orders"][0]["key"] == "k1"


def test_the_pre_flight_names_what_does_not_answer() -> None:
    audit = AuditSection(writes={"w": WriteSpec("w")}, reads={"orders": SPEC}, models=(SetModel("orders", id="key"),))
    calls: list[dict] = []

    def answer(url: str, params: dict) -> tuple[int, Any]:
        calls.append(params)
        return 404, "no such route"
    problems = final_read.check_reads(audit, BASE, ENV, lambda: Pages(answer))  # type: ignore[arg-type,return-value]
    assert problems == [f"audit.read.orders: GET {BASE}/orders answered 404: 'no such route'"]
    assert calls == [{"limit": 2}]     # the first page as the read asks for it, not the whole table
    assert final_read.check_reads(audit, BASE, ENV, lambda: Pages(keyset(ROWS))) == []  # type: ignore[arg-type,return-value]


# Redis ------------------------------------------------------------------------------------------------------------

class FakeRedis:
    """A RESP2 server on a loopback socket that answers a handful of read commands from `data`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.commands: list[list[str]] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        f = conn.makefile("rb")
        while True:
            head = f.readline()
            if not head:
                return
            args = []
            for _ in range(int(head[1:])):
                n = int(f.readline()[1:])
                args.append(f.read(n + 2)[:-2].decode())
            self.commands.append(args)
            conn.sendall(self._answer(args))

    def _answer(self, args: list[str]) -> bytes:
        cmd, rest = args[0].upper(), args[1:]
        value = self.data.get(rest[0]) if rest else None
        if cmd in ("AUTH", "SELECT", "PING"):
            return b"+OK\r\n"
        if cmd == "TYPE":
            kind = ("none" if value is None else "string" if isinstance(value, str) else "hash"
                    if isinstance(value, dict) else "set")
            return f"+{kind}\r\n".encode()
        if cmd == "GET":
            return _bulk(value)
        if cmd == "SMEMBERS":
            return _array(sorted(value))
        if cmd == "HGETALL":
            return _array([x for kv in value.items() for x in kv])
        if cmd == "SCAN":
            keys = [k for k in self.data if k.startswith(rest[2].rstrip("*"))]
            return b"*2\r\n" + _bulk("0") + _array(keys)
        return b"-ERR unknown command\r\n"


def _bulk(s: str | None) -> bytes:
    return b"$-1\r\n" if s is None else f"${len(s.encode())}\r\n{s}\r\n".encode()


def _array(items: list[str]) -> bytes:
    return f"*{len(items)}\r\n".encode() + b"".join(_bulk(i) for i in items)


def test_redis_set_members_hash_fields_and_a_missing_key() -> None:
    fake = FakeRedis({"orders": {"k2", "k1"}})
    assert list(redis_items(RedisRead(url=f"redis://:${{PW}}@127.0.0.1:{fake.port}/2", key="orders"), {"PW": "p"})) \
        == ["k1", "k2"]
    assert fake.commands[:2] == [["AUTH", "p"], ["SELECT", "2"]]
    fake = FakeRedis({"h": {"k1": '{"n": 1}'}})
    assert list(redis_items(RedisRead(url=f"redis://127.0.0.1:{fake.port}", key="h", json=True), {})) == [
        {"field": "k1", "value": {"n": 1}}]
    fake = FakeRedis({})
    assert list(redis_items(RedisRead(url=f"redis://127.0.0.1:{fake.port}", key="gone"), {})) == []


def test_redis_scan_reads_every_matching_key() -> None:
    fake = FakeRedis({"order:1": '{"id": 1}', "order:2": '{"id": 2}', "other": "x"})
    items = list(redis_items(RedisRead(url=f"redis://127.0.0.1:{fake.port}", scan="order:*", json=True), {}))
    assert items == [{"key": "order:1", "value": {"id": 1}}, {"key": "order:2", "value": {"id": 2}}]


def test_redis_values_that_are_not_json_fail_the_read() -> None:
    fake = FakeRedis({"s": {"not json"}})
    spec = ReadSpec("s", RedisRead(url=f"redis://127.0.0.1:{fake.port}", key="s", json=True), {"id": FieldSpec("")})
    c = final_read.read_collection(spec, None, {})
    assert not c.complete and "a value of 's' is not JSON" in (c.error or "")


# the load records identities from bodies -----------------------------------------------------------------------

class Lines:
    def __init__(self) -> None:
        self.lines: list[dict] = []

    def append(self, line: dict) -> None:
        self.lines.append(line)


class FakeResponse:
    def __init__(self, status: int, body: dict, request_body: bytes | None) -> None:
        self.status_code, self.headers = status, {"Content-Type": "application/json"}
        self.content = json.dumps(body).encode()
        self.request = type("Req", (), {"body": request_body})()


def test_the_recorder_writes_response_and_request_paths_into_the_line() -> None:
    lines = Lines()
    rec = Recorder("w0", lines, None, clock=lambda: 1_800_000_000.0,  # type: ignore[arg-type]
                   record={"add": ["response.order.id", "request.sku"]})
    rec.on_request(name="add", response=FakeResponse(201, {"order": {"id": 17}}, b'{"sku": "s-1"}'),
                   context={"op": "add"}, response_time=5)
    rec.on_request(name="add", response=FakeResponse(503, {"error": "x"}, b'{"sku": "s-2"}'),
                   context={"op": "add"}, response_time=5)
    rec.on_request(name="browse", response=FakeResponse(200, {"order": {"id": 1}}, None), context={}, response_time=5)
    first, failed, other = lines.lines
    assert (first["response.order.id"], first["request.sku"]) == (17, "s-1")
    assert (failed["response.order.id"], failed["request.sku"]) == (None, "s-2")   # no 2xx body: no identity
    assert "response.order.id" not in other


def test_an_sql_read_without_its_driver_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg", None)      # import psycopg raises ImportError
    monkeypatch.setitem(sys.modules, "pymysql", None)
    for dsn, driver in (("postgresql://u@127.0.0.1:5432/db", "psycopg"), ("mysql://u@127.0.0.1:3306/db", "PyMySQL")):
        spec = ReadSpec("t", SqlRead(dsn=dsn, query="SELECT 1"), {"id": FieldSpec("id")})
        c = final_read.read_collection(spec, None, {})
        assert not c.complete and f"needs {driver}: pip install 'drills[sql]'" in (c.error or "")
        audit = AuditSection(writes={"w": WriteSpec("w")}, reads={"t": spec}, models=(SetModel("t", id="id"),))
        assert f"needs {driver}" in final_read.check_reads(audit, None, {})[0]
