"""The data-loss audit, one anomaly class at a time, on constructed histories and final states."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.scenario.model import Budget
from tests.unit.test_checks_builder import Run, at


@pytest.fixture
def run(tmp_path: Path) -> Run:
    r = Run(tmp_path / "run")
    r.stream(end=10.0, every=0.5)  # 20 acknowledged purchases, keys key-1 .. key-20
    return r


def test_honest_final_state_has_no_anomaly(run: Run) -> None:
    run.final_from_history()
    a = run.judge()["audit"]
    assert a["final_state"] == "complete"
    assert (a["attempted"], a["acknowledged"]) == (20, 20)
    for name in ("lost", "unexpected", "duplicated", "oversold", "sold_over_capacity", "inventory_mismatch"):
        assert a[name] == 0, name
    assert a["samples"] == {}


def test_lost_acknowledged_purchase(run: Run) -> None:
    state = run.final_from_history()
    i = state.order_keys.index("key-5")
    for col in (state.order_ids, state.order_keys, state.order_events, state.order_created, state.order_seats):
        del col[i]
    for col in (state.ticket_ids, state.ticket_orders, state.ticket_events, state.ticket_seats):
        del col[i]
    state.events[0].update(sold=19, tickets=19, seats_taken=19)
    result = run.judge(Budget("lost", max=0))
    a = result["audit"]
    assert a["lost"] == 1
    sample = a["samples"]["lost"][0]
    assert sample["key"] == "key-5" and sample["order_id"] == 5 and sample["t_s"] == pytest.approx(2.01)
    assert result["verdict"] == "fail" and result["budgets"][0]["observed"] == 1


def test_order_found_by_order_id_is_not_lost(run: Run) -> None:
    state = run.final_from_history()
    state.order_keys[state.order_keys.index("key-3")] = "mangled"
    a = run.judge()["audit"]
    assert a["lost"] == 0
    assert a["unexpected"] == 1  # the mangled key itself was never attempted


def test_order_short_of_tickets_is_lost(run: Run) -> None:
    run.purchase("ok", 11.0, key="pair", seats=(501, 502))
    state = run.final_from_history()
    for col in (state.ticket_ids, state.ticket_orders, state.ticket_events, state.ticket_seats):
        del col[-1]
    a = run.judge()["audit"]
    assert a["lost"] == 1 and a["samples"]["lost"][0]["key"] == "pair"


def test_unexpected_never_attempted_and_definite_failure_applied(run: Run) -> None:
    failed = run.purchase("fail", 12.0)
    state = run.final_from_history(applied=(failed,))
    Run.add_order(state, "ghost", 99_999, [900], at(3.0))
    Run.add_order(state, "from-an-earlier-run", 99_998, [901], at(-3600.0))  # created long before: not ours
    a = run.judge()["audit"]
    assert a["unexpected"] == 2
    reasons = sorted(s["reason"] for s in a["samples"]["unexpected"])
    assert reasons == ["every attempt failed definitely", "key never attempted"]


def test_duplicated_key(run: Run) -> None:
    state = run.final_from_history()
    Run.add_order(state, "key-7", 77_777, [777], at(4.0))
    a = run.judge(Budget("duplicated", max=0))["audit"]
    assert a["duplicated"] == 1
    assert a["samples"]["duplicated"][0]["order_ids"] == [7, 77_777]
    assert a["samples"]["duplicated"][0]["orders"] == 2


def test_oversold_seat(run: Run) -> None:
    run.purchase("ok", 11.0, key="a", seats=(42,))
    run.purchase("ok", 11.5, key="b", seats=(42,))
    run.final_from_history()
    a = run.judge(Budget("oversold", max=0))["audit"]
    assert a["oversold"] == 1
    assert a["samples"]["oversold"][0] == {"event_id": 1, "seat_no": 42, "tickets": 2}


def test_sold_over_capacity(run: Run) -> None:
    run.final_from_history(capacity=15)
    a = run.judge(Budget("sold_over_capacity", max=0))["audit"]
    assert a["sold_over_capacity"] == 5
    assert a["samples"]["sold_over_capacity"][0]["capacity"] == 15


def test_indeterminate_split_and_never_lost(run: Run) -> None:
    took = run.purchase("info", 12.0, error="ReadTimeout")
    did_not = run.purchase("info", 12.5, error="ReadTimeout")
    run.final_from_history(applied=(took,))
    a = run.judge(Budget("lost", max=0))["audit"]
    assert (a["indeterminate"], a["indeterminate_applied"], a["indeterminate_not_applied"]) == (2, 1, 1)
    assert a["lost"] == 0 and a["unexpected"] == 0
    assert a["samples"]["indeterminate_applied"][0]["key"] == took
    assert a["samples"]["indeterminate_not_applied"][0]["key"] == did_not


def test_key_with_ok_among_info_attempts_is_acknowledged(run: Run) -> None:
    run.purchase("info", 12.0, key="retried", attempt=1)
    run.purchase("ok", 13.0, key="retried", attempt=2, seats=(600,))
    state = run.final_from_history()
    i = state.order_keys.index("retried")
    state.order_keys[i] = "gone"
    state.order_ids[i] = 123_456
    a = run.judge()["audit"]
    assert a["acknowledged"] == 21 and a["indeterminate"] == 0
    assert a["lost"] == 1 and a["samples"]["lost"][0]["key"] == "retried"


def test_rotation_lost_when_version_goes_back(run: Run) -> None:
    run.rotate("alice", "ok", 3.0, version=2)
    run.rotate("alice", "ok", 4.0, version=3)
    run.rotate("bob", "ok", 3.0, version=2)
    state = run.final_from_history()
    state.credentials["alice"] = 2
    a = run.judge(Budget("credential_changes_lost", max=0))["audit"]
    assert a["rotations_acknowledged"] == 2
    assert a["credential_changes_lost"] == 1
    assert a["samples"]["credential_changes_lost"][0]["user"] == "alice"


def test_later_indeterminate_rotation_that_applied_is_not_a_loss(run: Run) -> None:
    run.rotate("alice", "ok", 3.0, version=2)
    run.rotate("alice", "info", 4.0)
    state = run.final_from_history()
    state.credentials["alice"] = 3
    assert run.judge()["audit"]["credential_changes_lost"] == 0


def test_old_password_still_working_is_a_lost_rotation(run: Run) -> None:
    run.rotate("alice", "ok", 3.0, version=2)
    state = run.final_from_history()
    state.credential_checks = {"checked": 1, "eligible": 1, "errors": 0, "users": [
        {"user": "alice", "acknowledged_version": 2, "final_version": 2, "old_works": True, "new_works": True}]}
    a = run.judge()["audit"]
    assert a["credential_changes_lost"] == 1
    assert a["samples"]["credential_changes_lost"][0]["reason"] == "old password still works"


def test_revoked_session_still_working(run: Run) -> None:
    state = run.final_from_history()
    state.session_checks = {"checked": 3, "eligible": 3, "errors": 0,
                            "working": [{"user": "alice", "minted_t": at(1.0), "op": "login"}]}
    a = run.judge(Budget("revoked_sessions_working", max=0))["audit"]
    assert (a["sessions_checked"], a["revoked_sessions_working"]) == (3, 1)


def test_no_final_state_leaves_data_metrics_unknown(run: Run) -> None:
    result = run.judge(Budget("lost", max=0), Budget("oversold", max=0))
    a = result["audit"]
    assert a["final_state"] == "missing" and a["lost"] is None and a["oversold"] is None
    assert "final-state.json" in result["missing_files"]
    assert [b["passed"] for b in result["budgets"]] == [None, None]
    assert result["verdict"] == "inconclusive"


def test_incomplete_final_state_is_not_trusted(run: Run) -> None:
    state = run.final_from_history()
    state.complete = False
    state.errors.append("GET /audit/tickets: ReadTimeout")
    a = run.judge()["audit"]
    assert a["final_state"] == "incomplete" and a["lost"] is None
    assert any("incomplete" in e for e in a["errors"])


def test_no_acknowledged_purchase_makes_lost_unknown(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=5.0, outcome=lambda t: "fail")
    run.final_from_history()
    result = run.judge(Budget("lost", max=0))
    assert result["audit"]["lost"] is None
    assert result["budgets"][0]["passed"] is None and "no acknowledged purchase" in result["budgets"][0]["detail"]
    assert result["verdict"] == "inconclusive"


def test_samples_are_capped_at_twenty(run: Run) -> None:
    run.stream(start=20.0, end=30.0, every=0.25)  # 40 more acknowledged
    state = run.final_from_history()
    keep = 5
    for col in (state.order_ids, state.order_keys, state.order_events, state.order_created, state.order_seats,
                state.ticket_ids, state.ticket_orders, state.ticket_events, state.ticket_seats):
        del col[keep:]
    state.events[0].update(sold=keep, tickets=keep, seats_taken=keep)
    a = run.judge()["audit"]
    assert a["lost"] == 55 and len(a["samples"]["lost"]) == 20
