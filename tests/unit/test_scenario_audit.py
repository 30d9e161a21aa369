"""The `audit` section of a scenario: what it becomes, and every mistake named with its path before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.scenario import load_scenario, scenario_from_dict
from drills.scenario.audit_section import CounterModel, FieldSpec, HttpRead, RedisRead, SetModel, SqlRead, UniqueModel
from drills.scenario.issues import ScenarioInvalid

ATTACH = {"attach": {"api_url": "http://127.0.0.1:8080"}}


def scenario(audit: object, locustfile: str | None = "shop.py", **extra: object) -> dict:
    """A scenario attached to a system with its own locustfile (not looked for: no base_dir)."""
    doc: dict = {"name": "t", "stack": ATTACH, "audit": audit, **extra}
    if locustfile:
        doc["load"] = {"locustfile": locustfile}
    return doc


GOOD = {
    "writes": {"add_order": {"id": "key", "server_id": "response.order.id"}, "deposit": {"value": "amount",
                                                                                        "counter": "account"},
               "ping": None, "tag": "request.tag"},
    "read": {
        "orders": {"http": {"url": "/orders?status=all", "items": "data", "next": "next", "cursor_param": "after",
                            "limit_param": "limit", "page_size": 500, "headers": {"Authorization": "Bearer ${TOK}"},
                            "timeout": "20s"},
                   "fields": {"key": "idempotency_key", "created": {"path": "created_at", "type": "time"}}},
        "accounts": {"sql": {"dsn": "postgresql://drill:${PGPASSWORD}@127.0.0.1:5432/bank",
                             "query": "SELECT name, balance FROM accounts"}},
        "members": {"redis": {"url": "redis://127.0.0.1:6379/0", "key": "orders"}, "fields": {"id": ""}},
    },
    "models": [
        {"model": "set", "collection": "orders", "id": "key", "server_id": "id", "created": "created",
         "writes": ["add_order"]},
        {"model": "unique", "collection": "orders", "fields": ["event", "seat"]},
        {"model": "counter", "collection": "accounts", "value": "balance", "counter": "name", "initial": 100},
        {"model": "set", "collection": "members", "id": "id", "writes": ["tag"]},
    ],
}


def test_a_full_audit_section(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text("")
    s = scenario_from_dict(scenario(GOOD, locustfile="shop.py", budgets=[{"metric": "lost", "max": 0,
                                                                        "op": "add_order"}]),
                           base_dir=tmp_path)
    a = s.audit
    assert a is not None and not a.reference
    assert a.writes["add_order"].server_id == "response.order.id" and a.writes["ping"].id == "key"
    assert a.writes["tag"].id == "request.tag" and a.recorded() == {"add_order": ["response.order.id"],
                                                                    "tag": ["request.tag"]}
    orders = a.reads["orders"]
    assert isinstance(orders.source, HttpRead) and orders.source.timeout == 20.0 and orders.source.page_size == 500
    # every column a model uses is read: undeclared ones from the item key of the same name
    assert orders.fields == {"key": FieldSpec("idempotency_key"), "created": FieldSpec("created_at", "time"),
                             "id": FieldSpec("id"), "event": FieldSpec("event"), "seat": FieldSpec("seat")}
    assert isinstance(a.reads["accounts"].source, SqlRead) and isinstance(a.reads["members"].source, RedisRead)
    assert [type(m) for m in a.models] == [SetModel, UniqueModel, CounterModel, SetModel]
    counter = a.models[2]
    assert isinstance(counter, CounterModel) and counter.initial == 100.0 and a.model_writes(counter) == ("deposit",)


def test_the_scenario_file_positions_its_problems(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: t\nstack:\n  attach: {api_url: 'http://127.0.0.1:8080'}\naudit:\n"
                    "  writes: {purchase: key}\n  read:\n    o: {http: {url: 'http://10.0.0.2:80/x'}}\n"
                    "  models: [{model: set, collection: o, id: key}]\n")
    with pytest.raises(ScenarioInvalid) as exc:
        load_scenario(path)
    issue = exc.value.issues[0]
    assert (issue.line, issue.path) == (7, "audit.read.o.http.url") and "not loopback" in issue.message


def _messages(doc: dict) -> list[str]:
    with pytest.raises(ScenarioInvalid) as exc:
        scenario_from_dict(doc)
    return [f"{i.path}: {i.message}" for i in exc.value.issues]


@pytest.mark.parametrize(("audit", "expected"), [
    ({**GOOD, "models": [{"model": "sett", "collection": "orders"}]},
     "audit.models[0].model: expected `model`: one of set, unique, counter, found 'sett'"),
    ({**GOOD, "models": [{"model": "set", "collection": "order", "id": "key"}]},
     "audit.models[0].collection: expected a collection of audit.read (orders, accounts, members), found 'order'"),
    ({**GOOD, "models": [{"model": "set", "collection": "orders", "id": "key", "writes": ["add"]}]},
     "audit.models[0].writes[0]: expected one of add_order, deposit, ping, tag, found 'add'"),
    ({**GOOD, "models": [{"model": "counter", "collection": "accounts", "value": "balance", "writes": ["ping"]}]},
     "audit.models[0].writes: expected the write ping to declare a `value`"),
    ({**GOOD, "models": []}, "audit.models: expected at least one model"),
    ({**GOOD, "read": {"a": {"sql": {"dsn": "postgresql://u:hunter2@127.0.0.1:5432/db", "query": "SELECT 1"}}}},
     "found a password written in the URL: write a secret as ${NAME}"),
    ({**GOOD, "read": {"a": {"sql": {"dsn": "postgresql://u@db.internal:5432/db", "query": "SELECT 1"}}}},
     "the host 'db.internal' is not loopback"),
    ({**GOOD, "read": {"a": {"sql": {"dsn": "postgresql://u@127.0.0.1:5432", "query": "SELECT 1"}}}},
     "no database name after the port"),
    ({**GOOD, "read": {"a": {"sql": {"dsn": "sqlite:///x.db", "query": "SELECT 1"}}}}, "the scheme is sqlite://"),
    ({**GOOD, "read": {"a": {"http": {"url": "/a"}, "sql": {"dsn": "x", "query": "y"}}}},
     "audit.read.a: expected exactly one of http, sql, redis (where a is read from), found http and sql"),
    ({**GOOD, "read": {"a": {"redis": {"url": "redis://127.0.0.1:6379"}}}},
     "audit.read.a.redis: expected exactly one of key (one key, read by its type) or scan"),
    ({**GOOD, "read": {"a": {"http": {"url": "/a", "headers": {"X-Token": "$TOKEN"}}}}},
     "expected text where every '$' starts a ${NAME} reference"),
    ({**GOOD, "read": {"a": {"http": {"url": "/a", "cursor_param": "after"}}}},
     "audit.read.a.http.cursor_param: expected a `next`"),
    ({**GOOD, "read": {"a": {"http": {"url": "/a"}, "fields": {"id": {"path": "x", "type": "date"}}}}},
     "audit.read.a.fields.id.type: expected one of any, text, number, time, length, found 'date'"),
    ({**GOOD, "writes": {"add": {"id": "response"}}}, "response names no path"),
    ({**GOOD, "writes": {"add": {"counter": "account"}}}, "expected a `value` with `counter`"),
    ({**GOOD, "writes": {}}, "audit.writes: expected the writes"),
])
def test_mistakes_are_named(audit: dict, expected: str) -> None:
    messages = _messages(scenario(audit))
    assert any(expected in m for m in messages), messages


def test_the_builtin_locustfile_records_only_its_own_operations() -> None:
    audit = {**GOOD, "writes": {"purchase": "key", "add_order": "key"}, "models": [
        {"model": "set", "collection": "orders", "id": "key"}]}
    messages = _messages(scenario(audit, locustfile=None))
    assert messages == ["audit.writes.add_order: expected an operation the built-in locustfile records (purchase, "
                        "login, register, browse, rotate_password, verify_password), found 'add_order'"]


def test_the_reference_stack_has_its_audit_built_in() -> None:
    doc = scenario(GOOD)
    doc.pop("stack")
    assert any("expected `audit` only with stack.attach" in m for m in _messages(doc))
