"""Verdicts, expect: fail, exit codes and generator saturation."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.checks import exit_code
from drills.checks.verdict import self_test_passed
from drills.rundir import files
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


# -- a drill never claims more than it tested -------------------------------------------------------------------

def lose_one_order(run: Run) -> None:
    del run.final.order_keys[0], run.final.order_ids[0], run.final.order_created[0], run.final.order_seats[0]
    del run.final.order_events[0]


def test_a_fault_that_was_not_injected_makes_the_run_inconclusive(run: Run) -> None:
    run.fault("kill-leader", 30.0, ok=False)
    result = run.judge(Budget("lost", max=0), Budget("success_ratio", min=0.99))
    assert [b["passed"] for b in result["budgets"]] == [True, True]
    assert (result["verdict"], result["self_test_passed"], exit_code(result)) == ("inconclusive", False, 5)
    (reason,) = result["verdict_reasons"]
    assert reason.startswith("fault kill-leader (kill) was not injected: boom")
    (row,) = result["faults"]
    assert (row["inject_failed"], row["attempted_s"], row["injected_s"], row["healed_s"]) == (True, 30.0, None, None)
    assert (row["ok"], row["error"], row["late_ms"], row["duration_s"]) == (False, "boom", None, None)


def test_only_the_iteration_that_failed_is_named(run: Run) -> None:
    run.fault("flaky", 15.0, 20.0, iteration=0)
    run.fault("flaky", 30.0, ok=False, iteration=1)
    result = run.judge(Budget("lost", max=0))
    assert result["verdict"] == "inconclusive"
    assert [r.split(":")[0] for r in result["verdict_reasons"]] == ["fault flaky #1 (kill) was not injected"]
    assert [(f["iteration"], f["inject_failed"], f["injected_s"]) for f in result["faults"]] == [
        (0, False, 15.0), (1, True, None)]


def test_a_failed_inject_hides_a_budget_failure_and_an_expected_failure(run: Run) -> None:
    run.fault("kill-leader", 30.0, ok=False)
    slow = run.judge(Budget("success_ratio", min=1.1))
    assert slow["verdict"] == "inconclusive" and len(slow["verdict_reasons"]) == 2
    assert "was not injected" in slow["verdict_reasons"][0] and "success_ratio" in slow["verdict_reasons"][1]
    expected = run.judge(Budget("success_ratio", min=1.1), expect="fail")
    assert (expected["verdict"], expected["self_test_passed"], exit_code(expected)) == ("inconclusive", False, 5)


def test_proven_loss_fails_even_when_a_fault_did_not_happen(run: Run) -> None:
    lose_one_order(run)
    run.fault("kill-leader", 30.0, ok=False)
    result = run.judge(Budget("lost", max=0), Budget("success_ratio", min=1.1))
    assert result["verdict"] == "fail" and exit_code(result) == 1
    assert result["verdict_reasons"][0] == "lost[purchase,all]: observed 1 outside <= 0"
    assert "was not injected" in result["verdict_reasons"][1] and len(result["verdict_reasons"]) == 2
    # an expect: fail drill whose fault did not happen has not shown what it set out to show
    expected = run.judge(Budget("lost", max=0), expect="fail")
    assert (expected["verdict"], expected["self_test_passed"]) == ("inconclusive", False)


def test_a_failed_restore_action_is_judged_not_excused(run: Run) -> None:
    run.fault("restore", 30.0, 31.0, type="restore_cluster", ok=False)
    result = run.judge(Budget("lost", max=0))
    assert result["faults"][0]["inject_failed"] is False and result["faults"][0]["injected_s"] == 30.0
    assert result["verdict"] == "pass"


def test_an_aborted_run_that_lost_data_fails(run: Run) -> None:
    lose_one_order(run)
    run.events.append({"t": at(30), "kind": "abort", "reason": "error_ratio 0.93 > 0.9 over 10s"})
    result = run.judge(Budget("lost", max=0), Budget("success_ratio", min=1.1))
    assert (result["verdict"], exit_code(result)) == ("fail", 1)
    assert result["verdict_reasons"] == [
        "lost[purchase,all]: observed 1 outside <= 0",
        "aborted: error_ratio 0.93 > 0.9 over 10s (the availability budgets of an aborted run are not judged)"]
    caught = run.judge(Budget("lost", max=0), expect="fail")
    assert (caught["verdict"], caught["self_test_passed"], exit_code(caught)) == ("fail", True, 0)


def test_an_aborted_run_stays_aborted_without_proven_loss(run: Run) -> None:
    run.events.append({"t": at(30), "kind": "abort", "reason": "too many errors"})
    assert run.judge(Budget("lost", max=0), Budget("success_ratio", min=1.1))["verdict"] == "aborted"
    run.final = None  # no final state: the loss is unknown, not proven
    (run.dir / files.FINAL_STATE).unlink()
    unknown = run.judge(Budget("lost", max=0))
    assert unknown["budgets"][0]["passed"] is None
    assert (unknown["verdict"], unknown["verdict_reasons"]) == ("aborted", ["aborted: too many errors"])


def test_only_a_definite_data_loss_count_is_proof() -> None:
    from drills.checks.verdict import proves_loss
    lost = {"name": "lost", "metric": "lost", "passed": False, "observed": 791, "censored": False}
    assert proves_loss(lost)
    assert not proves_loss({**lost, "passed": None, "observed": None})
    assert not proves_loss({**lost, "censored": True})
    assert not proves_loss({**lost, "metric": "success_ratio"})
    assert not proves_loss({**lost, "metric": "rpo_s"})   # a length of time, not a count of lost writes
