"""What a run's verdict means for a reader, in one place: a drill expected to fail that failed is a success.

The verdict itself is the checks' (drills/checks/verdict.py); this only words it for the banner, the index
and the console.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drills.checks.verdict import VERDICTS


@dataclass(frozen=True)
class Verdict:
    """The verdict as shown: `css` picks the banner colour, `ok` says whether CI should be green."""

    verdict: str          # the checks' verdict, or "none" when there is none (the runs index: no result.json)
    expected: str         # "pass" or "fail"
    title: str            # the headline, e.g. "FAILED AS EXPECTED — SELF-TEST PASSED"
    css: str              # pass / fail / aborted / inconclusive / error
    ok: bool
    explanation: str      # one sentence for someone who was not there


def describe(result: Mapping[str, Any] | None) -> Verdict:
    """Word the checks' verdict, expected outcome and self_test_passed for a reader."""
    result = result or {}
    raw = result.get("verdict")
    expected = "fail" if result.get("expected") == "fail" else "pass"
    if raw not in VERDICTS:
        return Verdict("none", expected, "NO VERDICT", "error", False,
                       "result.json is missing or has no verdict: the run did not reach its checks "
                       "(`drill report RUN_DIR` judges it).")
    self_test = result.get("self_test_passed")
    if expected == "fail":
        if raw == "fail" and self_test is not False:
            return Verdict(raw, expected, "FAILED AS EXPECTED — SELF-TEST PASSED", "pass", True,
                           "This drill is a self-test: it must fail, and it did. The checks catch this failure.")
        if raw == "pass":
            return Verdict(raw, expected, "PASSED BUT EXPECTED TO FAIL — SELF-TEST FAILED", "fail", False,
                           "This drill is a self-test that must fail; it passed, so the checks missed a "
                           "failure they should detect.")
        if raw == "fail":
            return Verdict(raw, expected, "FAILED — SELF-TEST FAILED", "fail", False,
                           "The drill failed, but not in the way the self-test expects.")
    titles = {
        "pass": ("PASS", "Every budget held."),
        "fail": ("FAIL", "At least one budget was exceeded."),
        "aborted": ("ABORTED", "The drill was stopped early by an abort condition; budgets were not judged in full."),
        "inconclusive": ("INCONCLUSIVE", "The evidence is not enough to judge at least one budget."),
        "error": ("ERROR", "The harness or infrastructure failed; this says nothing about the system under test."),
    }
    title, text = titles[raw]
    return Verdict(raw, expected, title, raw, raw == "pass", text)
