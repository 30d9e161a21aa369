"""junit.xml: one test case per budget plus the verdict, readable by CI tools."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from drills.checks.result_model import BudgetRow
from drills.report import render_run
from drills.report.junit import budget_message

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"


def _junit(tmp_path: Path, kind: str, patch: dict | None = None) -> ET.Element:
    run = tmp_path / kind
    shutil.copytree(FIXTURES / kind, run)
    if patch:
        result = json.loads((run / "result.json").read_text())
        result.update(patch)
        (run / "result.json").write_text(json.dumps(result))
    return ET.parse(render_run(run)[1]).getroot()


def _cases(root: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name"): c for c in root.iter("testcase")}


def test_pass_run(tmp_path: Path) -> None:
    root = _junit(tmp_path, "pass")
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "leader-kill"
    cases = _cases(root)
    assert len(cases) == 7 and "verdict" in cases
    assert all(c.get("classname") == "leader-kill" for c in cases.values())
    assert suite.get("tests") == "7" and suite.get("failures") == "0" and suite.get("skipped") == "0"
    assert suite.get("errors") == "0"
    held = cases["failover_s[purchase,all]"].find("system-out")
    assert held is not None and held.text.startswith("held: observed ") and "limit ≤ 20 s" in held.text
    assert cases["verdict"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "pass" and props["seed"] == "7"


def test_fail_run_names_the_budgets_with_observed_and_limit(tmp_path: Path) -> None:
    root = _junit(tmp_path, "fail")
    cases = _cases(root)
    lost = cases["lost[purchase,all]"].find("failure")
    assert lost is not None
    acknowledged = json.loads((FIXTURES / "fail" / "result.json").read_text())["audit"]["acknowledged"]
    assert lost.get("message").startswith(f"observed 2 vs limit ≤ 0 ({acknowledged} acknowledged purchases; ")
    assert cases["oversold[purchase,all]"].find("failure") is not None
    assert cases["failover_s[purchase,all]"].find("failure") is None
    assert cases["verdict"].find("failure").get("message") == "FAIL"
    assert root.get("failures") == "3"


def test_expected_failure_passes_in_ci(tmp_path: Path) -> None:
    root = _junit(tmp_path, "fail", {"expected": "fail", "self_test_passed": True})
    assert root.get("failures") == "0" and root.get("errors") == "0"
    out = _cases(root)["lost[purchase,all]"].find("system-out")
    assert out is not None and out.text.startswith("exceeded as the self-test expects")


def test_aborted_and_crashed_runs_are_errors(tmp_path: Path) -> None:
    aborted = _cases(_junit(tmp_path, "aborted"))["verdict"].find("error")
    assert aborted is not None and "error_ratio 0.93" in aborted.get("message")
    crashed = _junit(tmp_path, "crashed")
    cases = _cases(crashed)
    assert len(cases) == 7  # judged now by the checks: its budgets are test cases too
    error = cases["verdict"].find("error")
    assert error.get("type") == "error" and "no load_stopped event" in error.get("message")
    assert "result.json is missing" in error.text


def budget(metric: str, observed: float | None, detail: str = "", **limit: float) -> BudgetRow:
    return {"name": metric, "metric": metric, "op": "purchase", "phase": "all",
            "limit": {"min": limit.get("min"), "max": limit.get("max")}, "observed": observed, "passed": None,
            "detail": detail, "censored": False}


def test_budget_message_units() -> None:
    assert budget_message(budget("failover_s", 12.34, "pg1 → pg2", max=10)) == \
        "observed 12.3 s vs limit ≤ 10 s (pg1 → pg2)"
    assert budget_message(budget("success_ratio", 0.98, min=0.999)) == "observed 98 % vs limit ≥ 99.90 %"
    assert budget_message(budget("latency_p99_ms", None, max=500)) == "observed — vs limit ≤ 500 ms"
