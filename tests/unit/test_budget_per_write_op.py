"""A declared audit's data-loss budgets count the writes of the budget's `op` only (issue 15: `lost[create_order]`
must not include another write's losses)."""

from __future__ import annotations

from typing import Any

from drills.checks.budgets import observe
from drills.checks.measurements import Measurements


def _audit(**extra: Any) -> dict:
    models = [
        {"model": "set", "name": "orders", "writes": ["create_order"], "acknowledged": 100, "lost": 3,
         "unexpected": 0, "duplicated": 1, "indeterminate_applied": 2, "indeterminate_not_applied": 1, "error": None},
        {"model": "set", "name": "refunds", "writes": ["refund", "chargeback"], "acknowledged": 10, "lost": 4,
         "unexpected": 0, "duplicated": 0, "indeterminate_applied": 0, "indeterminate_not_applied": 0, "error": None},
    ]
    return {"final_state": "complete", "acknowledged": 110, "lost": 7, "duplicated": 1, "unexpected": 0,
            "indeterminate": 3, "indeterminate_applied": 2, "models": models, **extra}


def _m(audit: dict) -> Measurements:
    return Measurements(availability=None, audit=audit)  # type: ignore[arg-type]  # data-loss metrics only


def test_a_write_op_counts_only_its_models():
    o = observe("lost", "create_order", "all", _m(_audit()))
    assert o.value == 3 and "100 acknowledged create_order writes in orders" in o.detail
    assert "3 indeterminate (2 took effect)" in o.detail
    assert observe("duplicated", "create_order", "all", _m(_audit())).value == 1


def test_a_model_over_several_ops_says_it_covers_the_others():
    o = observe("lost", "refund", "all", _m(_audit()))
    assert o.value == 4 and "also covers chargeback" in o.detail


def test_an_op_no_model_writes_keeps_the_audit_total():
    assert observe("lost", "purchase", "all", _m(_audit())).value == 7


def test_a_model_that_could_not_judge_is_unknown_with_its_reason():
    audit = _audit()
    audit["models"][0].update(lost=None, error="orders: GET /orders answered 404")
    o = observe("lost", "create_order", "all", _m(audit))
    assert o.value is None and "404" in o.detail
