"""Verdicts, expect: fail, exit codes and generator saturation."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.checks import exit_code
from drills.checks.verdict import self_test_passed
from drills.scenario.model import Budget
from tests.unit.test_checks_builder import Run, at


@pytest.fixture
def run(tmp_path: Path) -> Run:
    r = Run(tmp_path / "run")
    r.stream(every=0.1)
    for sec in range(60):
        r.stat(sec + 0.5)
    r.final_from_history()
    return r


def test_pass(run: Run) -> None:
    result = run.judge(Budget("lost", max=0), Budget("success_ratio", min=0.99))
    assert (result["verdict"], result["self_test_passed"], exit_code(result)) == ("pass", True, 0)


def test_unknown_budget_makes_it_inconclusive(run: Run) -> None:
    result = run.judge(Budget("lost", max=0), Budget("failover_s", max=30))
    assert result["budgets"][1]["passed"] is None
    assert result["verdict"] == "inconclusive" and exit_code(result) == 5
    assert any("failover_s" in r and "unknown" in r for r in result["verdict_reasons"])


def test_a_definite_failure_beats_an_unknown(run: Run) -> None:
    del run.final.order_keys[0], run.final.order_ids[0], run.final.order_created[0], run.final.order_seats[0]
    del run.final.order_events[0]
    result = run.judge(Budget("lost", max=0), Budget("failover_s", max=30))
    assert result["verdict"] == "fail" and exit_code(result) == 1


def test_expect_fail_semantics(run: Run) -> None:
    caught = run.judge(Budget("success_ratio", min=1.1), expect="fail")
    assert caught["verdict"] == "fail" and caught["expected"] == "fail"
    assert caught["self_test_passed"] is True and exit_code(caught) == 0
    missed = run.judge(Budget("success_ratio", min=0.5), expect="fail")
    assert missed["verdict"] == "pass" and missed["self_test_passed"] is False and exit_code(missed) == 1
    assert self_test_passed("inconclusive", "fail") is False


def test_abort_and_error_events(run: Run) -> None:
    run.events.append({"t": at(30), "kind": "abort", "reason": "error_ratio 0.93 > 0.9 over 10s"})
    aborted = run.judge(Budget("lost", max=0))
    assert aborted["verdict"] == "aborted" and exit_code(aborted) == 2
    run.events.append({"t": at(31), "kind": "error", "where": "load", "message": "locust exited with code 1"})
    crashed = run.judge(Budget("lost", max=0))
    assert crashed["verdict"] == "error" and exit_code(crashed) == 3
    assert crashed["verdict_reasons"] == ["error in load: locust exited with code 1"]


def test_generator_below_target_rate_is_inconclusive(run: Run) -> None:
    run.stats = []
    for sec in range(60):
        run.stat(sec + 0.5, offered=8.0, target=10.0)
    result = run.judge(Budget("success_ratio", min=0.99))
    assert result["generator"]["saturated"] is True and result["generator"]["achieved_ratio"] == 0.8
    assert result["verdict"] == "inconclusive"


def test_falling_behind_during_a_fault_is_not_saturation(run: Run) -> None:
    run.stats = []
    for sec in range(60):
        run.stat(sec + 0.5, offered=2.0 if 30 <= sec < 40 else 10.0, target=10.0)
    run.fault("kill-leader", 30.0, 38.0)
    result = run.judge(Budget("success_ratio", min=0.99))
    assert result["generator"]["saturated"] is False and result["generator"]["achieved_ratio"] == 1.0


def test_busy_generator_cpu_is_inconclusive(run: Run) -> None:
    run.stats = []
    for sec in range(60):
        run.stat(sec + 0.5, cpu=97.0 if sec % 4 == 0 else 50.0)  # 25 % of the seconds
    result = run.judge(Budget("success_ratio", min=0.99))
    assert result["generator"]["cpu_hot_share"] == 0.25
    assert result["verdict"] == "inconclusive"


def test_saturation_does_not_excuse_data_loss(run: Run) -> None:
    del run.final.order_keys[0], run.final.order_ids[0], run.final.order_created[0], run.final.order_seats[0]
    del run.final.order_events[0]
    for s in run.stats:
        s["cpu_percent"] = 99.0
    result = run.judge(Budget("lost", max=0), Budget("latency_p99_ms", max=1))
    assert result["verdict"] == "fail"
    assert [r for r in result["verdict_reasons"] if "lost" in r]
    only_latency = run.judge(Budget("latency_p99_ms", max=1))
    assert only_latency["verdict"] == "inconclusive"


def test_missing_stats_leave_generator_unknown_but_judged(run: Run) -> None:
    run.stats = []
    result = run.judge(Budget("success_ratio", min=0.99))
    assert result["generator"]["saturated"] is None
    assert result["verdict"] == "pass"


def test_exit_code_mapping() -> None:
    assert [exit_code({"verdict": v, "expected": "pass"}) for v in ("pass", "fail", "aborted", "error",
                                                                      "inconclusive")] == [0, 1, 2, 3, 5]
    assert exit_code({"verdict": "fail", "expected": "fail"}) == 0
    assert exit_code({"verdict": "pass", "expected": "fail"}) == 1
    assert exit_code({"verdict": "aborted", "expected": "fail"}) == 2
