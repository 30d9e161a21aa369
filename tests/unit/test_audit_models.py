"""A declared audit's models (set, unique, counter) on constructed histories and final reads, judged end to end
(history files + final-state.json -> result.json), and what an unreadable or malformed read makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.checks import judge
from drills.checks.finalstate import Collection, FinalState
from drills.scenario.audit_section import (
    AuditSection,
    CounterModel,
    FieldSpec,
    HttpRead,
    ReadSpec,
    SetModel,
    UniqueModel,
    WriteSpec,
)
from drills.scenario.model import Budget, Phases, Scenario
from drills.scenario.reference_audit import REFERENCE_AUDIT
from tests.unit.test_checks_builder import Run, at


def _read(name: str) -> ReadSpec:
    return ReadSpec(name, HttpRead(url=f"/{name}"), {})


ORDERS = AuditSection(
    writes={"add_order": WriteSpec("add_order", id="key", server_id="response.id")},
    reads={"orders": _read("orders")},
    models=(SetModel("orders", id="key", server_id="id", created="created"),
            UniqueModel("orders", fields=("slot",))),
)


def scenario(audit: AuditSection, *budgets: Budget, expect: str = "pass") -> Scenario:
    return Scenario(name="t", expect=expect, budgets=list(budgets), phases=Phases(10.0, 40.0, 10.0), audit=audit)


def order(run: Run, outcome: str, t: float, key: str | None, server: int | None = None) -> None:
    fields = {"key": key, "response.id": server if outcome == "ok" else None}
    run.op("add_order", outcome, t, **fields)


def rows(run: Run, table: list[tuple], names: tuple[str, ...] = ("key", "id", "created", "slot"),
         complete: bool = True, error: str | None = None, name: str = "orders") -> FinalState:
    state = run.final if run.final is not None else FinalState(read_at=at(65), declared=True)
    cols = {n: [r[i] for r in table] for i, n in enumerate(names)}
    state.collections[name] = Collection(cols, len(table), complete, error, f"GET http://127.0.0.1:1/{name}")
    state.complete = state.complete and complete
    run.final = state
    return state


@pytest.fixture
def run(tmp_path: Path) -> Run:
    r = Run(tmp_path / "run")
    for n in range(1, 11):                       # k1..k10 acknowledged, server ids 101..110
        order(r, "ok", n, f"k{n}", 100 + n)
    return r


def honest(n: int = 10) -> list[tuple]:
    return [(f"k{i}", 100 + i, at(i), i) for i in range(1, n + 1)]


def test_an_honest_read_has_no_anomaly(run: Run) -> None:
    rows(run, honest())
    a = judge(run.write(), scenario(ORDERS))["audit"]
    assert a["final_state"] == "complete" and a["acknowledged"] == 10
    assert (a["lost"], a["unexpected"], a["duplicated"], a["unique_violations"]) == (0, 0, 0, 0)
    assert a["anomalies"] == 0 and a["samples"] == {} and a["errors"] == []
    assert [m["model"] for m in a["models"]] == ["set", "unique"] and a["models"][0]["rows"] == 10
    assert "oversold" not in a and "credential_changes_lost" not in a     # the reference's own checks only


def test_lost_acknowledged_writes_are_reported_by_id(run: Run) -> None:
    rows(run, [r for r in honest() if r[0] not in ("k3", "k7")])
    result = judge(run.write(), scenario(ORDERS, Budget("lost", max=0), expect="fail"))
    a = result["audit"]
    assert a["lost"] == 2 and result["verdict"] == "fail" and result["self_test_passed"]
    lost = a["samples"]["lost"]
    assert [s["id"] for s in lost] == ["k3", "k7"]
    assert lost[0]["op"] == "add_order" and lost[0]["response.id"] == 103 and lost[0]["t_s"] == pytest.approx(3.01)
    assert lost[0]["reason"] == "not in orders (by key or id)"


def test_a_row_found_by_its_server_id_is_not_lost(run: Run) -> None:
    table = honest()
    table[2] = ("mangled", 103, at(3), 3)
    rows(run, table)
    a = judge(run.write(), scenario(ORDERS))["audit"]
    assert a["lost"] == 0 and a["unexpected"] == 1      # the mangled id itself was never attempted


def test_unexpected_never_attempted_and_definite_failure_applied(run: Run) -> None:
    order(run, "fail", 12, "failed")
    rows(run, honest() + [("failed", 200, at(12), 20), ("ghost", 201, at(13), 21),
                          ("before-the-run", 202, at(-3600), 22)])
    a = judge(run.write(), scenario(ORDERS))["audit"]
    assert a["unexpected"] == 2 and a["failed"] == 1
    reasons = sorted(s["reason"] for s in a["samples"]["unexpected"])
    assert reasons == ["every attempt failed definitely", "never attempted"]


def test_duplicated_ids_and_a_repeated_unique_value(run: Run) -> None:
    rows(run, honest() + [("k4", 444, at(4), 4)])
    a = judge(run.write(), scenario(ORDERS))["audit"]
    assert a["duplicated"] == 1 and a["samples"]["duplicated"][0]["rows"] == 2
    assert a["unique_violations"] == 1 and a["samples"]["unique_violations"][0] == {
        "model": "unique orders.(slot)", "slot": 4, "rows": 2}


def test_indeterminate_writes_are_applied_or_not_never_lost(run: Run) -> None:
    order(run, "info", 20, "maybe-1")
    order(run, "info", 21, "maybe-2")
    order(run, "info", 22, "retried")
    order(run, "ok", 23, "retried", 300)                 # a retry acknowledged it: acknowledged, not undecided
    rows(run, honest() + [("maybe-1", 301, at(20), 31), ("retried", 300, at(23), 32)])
    a = judge(run.write(), scenario(ORDERS))["audit"]
    assert (a["acknowledged"], a["indeterminate"]) == (11, 2)
    assert (a["indeterminate_applied"], a["indeterminate_not_applied"], a["lost"]) == (1, 1, 0)


def test_whole_number_ids_match_text_ones(run: Run) -> None:
    audit = AuditSection(writes={"put": WriteSpec("put", id="n")}, reads={"items": _read("items")},
                         models=(SetModel("items", id="n"),))
    for n in range(1, 4):
        run.op("put", "ok", n, n=n)                       # whole numbers in the history
    rows(run, [("1",), (2,), (3.0,)], names=("n",), name="items")
    a = judge(run.write(), scenario(audit))["audit"]
    assert (a["acknowledged"], a["lost"], a["unexpected"]) == (3, 0, 0)


def test_a_write_without_identity_is_counted_unkeyed(run: Run) -> None:
    order(run, "ok", 30, None)
    rows(run, honest())
    a = judge(run.write(), scenario(ORDERS))["audit"]
    assert a["unkeyed"] == 1 and a["lost"] == 0


def test_rows_with_a_null_id_are_counted_not_matched(run: Run) -> None:
    rows(run, honest() + [(None, 999, at(5), 99)])
    a = judge(run.write(), scenario(ORDERS))["audit"]
    assert a["models"][0]["null_ids"] == 1 and a["unexpected"] == 0


# unknown, never 0 -----------------------------------------------------------------------------------------------

def test_a_read_that_failed_leaves_every_count_unknown_with_its_reason(run: Run) -> None:
    rows(run, honest()[:3], complete=False, error="GET http://127.0.0.1:1/orders (page 2) answered 404: 'no'")
    result = judge(run.write(), scenario(ORDERS, Budget("lost", max=0)))
    a = result["audit"]
    assert a["final_state"] == "incomplete"
    assert a["lost"] is None and a["unexpected"] is None and a["unique_violations"] is None
    assert any("answered 404" in e for e in a["errors"])
    assert result["verdict"] == "inconclusive"
    assert "answered 404" in result["budgets"][0]["detail"]


def test_malformed_ids_leave_the_model_unknown(run: Run) -> None:
    table = honest()
    table[0] = (["k1"], 101, at(1), 1)
    rows(run, table)
    a = judge(run.write(), scenario(ORDERS))["audit"]
    assert a["lost"] is None and a["unique_violations"] == 0      # the unique model could still judge
    assert a["models"][0]["error"] == 'orders: key[0]: ["k1"] is not text or a whole number'


def test_a_model_whose_collection_was_not_read_is_unknown(run: Run) -> None:
    audit = AuditSection(writes=ORDERS.writes, reads={"orders": _read("orders"), "other": _read("other")},
                         models=(SetModel("other", id="key"),))
    rows(run, honest())
    a = judge(run.write(), scenario(audit))["audit"]
    assert a["lost"] is None and "the collection other was not read" in a["errors"][0]


def test_no_final_state_says_why(run: Run) -> None:
    a = judge(run.write(), scenario(ORDERS))["audit"]
    assert a["final_state"] == "missing" and a["lost"] is None
    assert "the final read did not happen" in a["errors"][0]


def test_a_damaged_collection_in_the_file_is_unknown(run: Run) -> None:
    import json

    rows(run, honest())
    out = run.write()
    doc = json.loads((out / "final-state.json").read_text())
    doc["collections"]["orders"]["columns"]["key"].pop()
    (out / "final-state.json").write_text(json.dumps(doc))
    a = judge(out, scenario(ORDERS))["audit"]
    assert a["lost"] is None and any("collections.orders" in e for e in a["errors"])


def test_a_declared_audit_does_not_judge_a_reference_final_state(run: Run) -> None:
    run.final = FinalState(read_at=at(65))
    a = judge(run.write(), scenario(ORDERS))["audit"]
    assert a["lost"] is None and "reference stack's audit" in a["errors"][0]


# counter ---------------------------------------------------------------------------------------------------------

BANK = AuditSection(
    writes={"deposit": WriteSpec("deposit", id="key", value="amount", counter="account")},
    reads={"accounts": ReadSpec("accounts", HttpRead(url="/accounts"), {"name": FieldSpec("name"),
                                                                        "balance": FieldSpec("balance")})},
    models=(CounterModel("accounts", value="balance", counter="name", initial=100.0),),
)


def deposit(run: Run, outcome: str, t: float, key: str | None, amount: float, account: str = "a") -> None:
    run.op("deposit", outcome, t, key=key, amount=amount, account=account)


def test_counter_within_bounds(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    deposit(run, "ok", 1, "d1", 10)
    deposit(run, "info", 2, "d2", 5)       # may or may not have taken effect
    deposit(run, "fail", 3, "d3", 1000)    # definitely did not
    deposit(run, "info", 4, "d4", -3)
    deposit(run, "ok", 5, "d4", -3)         # its retry was acknowledged: once
    for final in (107.0, 112.0):
        rows(run, [("a", final)], names=("name", "balance"), name="accounts")
        a = judge(run.write(), scenario(BANK))["audit"]
        assert a["counter_mismatch"] == 0 and a["models"][0]["counters_checked"] == 1, final


def test_counter_below_what_was_acknowledged(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    deposit(run, "ok", 1, "d1", 10)
    deposit(run, "ok", 2, "d2", 10, account="b")
    rows(run, [("a", 100), ("b", "110")], names=("name", "balance"), name="accounts")
    result = judge(run.write(), scenario(BANK, Budget("counter_mismatch", max=0)))
    a = result["audit"]
    assert a["counter_mismatch"] == 1 and result["verdict"] == "fail"
    s = a["samples"]["counter_mismatch"][0]
    assert (s["counter"], s["final"], s["expected_min"], s["reason"]) == (
        "a", 100.0, 110.0, "below what the acknowledged writes add")


def test_counter_missing_from_the_read_and_one_without_amount(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    deposit(run, "ok", 1, "d1", 10, account="gone")
    run.op("deposit", "ok", 2, key="d2", amount=None, account="vague")
    rows(run, [("vague", 3)], names=("name", "balance"), name="accounts")
    a = judge(run.write(), scenario(BANK))["audit"]
    assert a["counter_mismatch"] == 1 and a["samples"]["counter_mismatch"][0]["reason"] == "not in the final read"
    assert a["models"][0]["counters_unbounded"] == 1


# the reference stack's audit is the same mechanism --------------------------------------------------------------

def test_the_reference_audit_is_declared_with_the_same_classes() -> None:
    assert REFERENCE_AUDIT.reference and set(REFERENCE_AUDIT.reads) == {"orders", "tickets", "credentials", "events"}
    kinds = [m.kind for m in REFERENCE_AUDIT.models]
    assert kinds == ["set", "unique"] and REFERENCE_AUDIT.writes["purchase"].id == "key"


def test_the_reference_final_state_is_seen_as_collections(tmp_path: Path) -> None:
    r = Run(tmp_path / "run")
    r.stream(end=2.0, every=0.5)
    state = r.final_from_history()
    orders = state.collection("orders")
    assert orders is not None and orders.rows == 4 and orders.columns["idempotency_key"][0] == "key-1"
    assert state.collection("credentials") is None     # not a collection the reference models read
