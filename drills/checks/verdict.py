"""The verdict of a run, and its exit code.

Precedence: error (the run crashed: an `error` event, no history, or no `load_stopped`) > aborted (an `abort` event) >
fail > inconclusive > pass. A budget that *definitely* failed is conclusive even if another budget is
unknown (as in Jepsen, false dominates unknown), so a self-test that loses data fails reliably. One
exception: while the load generator was saturated, failed availability and latency budgets measure the
generator, not the system, and only make the run inconclusive; data-safety failures (metrics of kind
data_safety in drills/scenario/metrics.py: the audit's, `rpo_*`, `lost_after_recovery`, `resold_seats`) still
fail it, and so does an `rto_s` that never recovered (a failed restore is not the generator's doing).

A drill never claims more than it tested:

* a fault whose injection failed (FaultRecord.inject_failed) did not happen, so the run is inconclusive --
  it passed, or failed, without what it says it tested, and an `expect: fail` drill cannot be judged as
  failing as expected either;
* but proven data loss (a data-loss count budget that definitely failed) is a fact whatever else happened:
  it fails the run even when the run was aborted (the abort is given beside it; availability budgets of an
  aborted run stay untrusted) or a fault did not happen -- except in an `expect: fail` drill whose fault
  did not happen, which has not shown what it set out to show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drills.checks.window import FaultRecord, pair_faults
from drills.scenario.metrics import DATA_SAFETY_METRICS, METRICS

VERDICTS = ("pass", "fail", "aborted", "error", "inconclusive")
EXIT_CODES = {"pass": 0, "fail": 1, "aborted": 2, "error": 3, "inconclusive": 5}


def decide(events: list[dict], operations: int | None, budgets: list[dict], generator: dict,
           expected: str = "pass") -> tuple[str, list[str]]:
    """(verdict, reasons in words). `operations` is how many the history recorded, None without history;
    `expected` is the scenario's `expect` (see the module docstring). A run whose events never reach
    `load_stopped` crashed (the runner writes it even when aborting)."""
    errors = [e for e in events if e.get("kind") == "error"]
    stopped = any(e.get("kind") == "run" and e.get("name") == "load_stopped" for e in events)
    if errors or not operations or not stopped:
        reasons = [f"error in {e.get('where', '?')}: {e.get('message', '')}" for e in errors]
        if operations is None:
            reasons.append("no history*.jsonl: the load recorded nothing")
        elif not operations:
            reasons.append("the history recorded no operation: the load never ran")
        if not stopped:
            reasons.append("no load_stopped event: the run stopped half-way (crashed?)")
        return "error", reasons
    untested = [not_injected(f) for f in pair_faults(events) if f.inject_failed]
    loss = [b for b in budgets if proves_loss(b)]
    loss_counts = bool(loss) and not (untested and expected == "fail")
    aborts = [f"aborted: {e.get('reason', '')}" for e in events if e.get("kind") == "abort"]
    if aborts:
        if loss_counts:
            return "fail", [_failure(b) for b in loss] + [
                f"{a} (the availability budgets of an aborted run are not judged)" for a in aborts] + untested
        return "aborted", aborts + untested
    verdict, reasons = _judge_budgets(budgets, generator)
    if untested:
        if loss_counts:
            return "fail", [_failure(b) for b in loss] + untested
        return "inconclusive", untested + (reasons if verdict != "pass" else [])
    return verdict, reasons


def _judge_budgets(budgets: list[dict], generator: dict) -> tuple[str, list[str]]:
    """fail / inconclusive / pass from the budgets alone (a run that ended normally, every fault injected)."""
    saturated = generator.get("saturated") is True
    failed = [b for b in budgets if b["passed"] is False]
    trusted = [b for b in failed if not saturated or b["metric"] in DATA_SAFETY_METRICS or b.get("never")]
    unknown = [b for b in budgets if b["passed"] is None]
    if trusted:
        return "fail", [_failure(b) for b in trusted]
    reasons = [f"{b['name']}: unknown ({b['detail']})" for b in unknown]
    if saturated:
        reasons += [f"generator saturated: {r}" for r in generator.get("reasons", [])]
        reasons += [f"{b['name']}: failed while the generator was saturated (not trusted)" for b in failed]
    if reasons:
        return "inconclusive", reasons
    return "pass", [f"{len(budgets)} budget(s) held"]


def proves_loss(budget: dict) -> bool:
    """A data-loss count budget that definitely failed: a known count over its limit (not a lower bound)."""
    spec = METRICS.get(budget.get("metric", ""))
    return (budget.get("passed") is False and spec is not None and spec.kind == "data_safety"
            and spec.unit == "count" and budget.get("observed") is not None and not budget.get("censored"))


def not_injected(fault: FaultRecord) -> str:
    """Why a fault whose injection failed leaves the run untested, naming the fault and the error."""
    name = fault.id + (f" #{fault.iteration}" if fault.iteration else "")
    return (f"fault {name} ({fault.type or '?'}) was not injected: {fault.error or 'inject failed'}; the drill "
            "did not test what it says")


def _failure(b: dict) -> str:
    return f"{b['name']}: " + (f"{b['detail']}" if b.get("never") else f"observed {b['observed']} outside {_limit(b)}")


def _limit(b: dict) -> str:
    lim = b.get("limit") or {}
    parts = ([f">= {lim['min']}"] if lim.get("min") is not None else []) + (
        [f"<= {lim['max']}"] if lim.get("max") is not None else [])
    return " and ".join(parts) or "its limit"


def self_test_passed(verdict: str, expected: str) -> bool:
    """A drill did what it set out to show: pass when expected to pass, fail when expected to fail."""
    return (expected == "fail" and verdict == "fail") or (expected == "pass" and verdict == "pass")


def exit_code(result: Mapping[str, Any]) -> int:
    """0 pass (or an expected failure that failed), 1 a budget failed (or an expected failure passed),
    2 aborted, 3 error, 5 inconclusive."""
    verdict = result.get("verdict")
    if verdict in ("aborted", "error", "inconclusive"):
        return EXIT_CODES[verdict]
    if result.get("expected") == "fail":
        return 0 if verdict == "fail" else 1
    return 0 if verdict == "pass" else 1
