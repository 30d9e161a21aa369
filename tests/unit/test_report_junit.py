"""junit.xml: one test case per budget plus the verdict, readable by CI tools."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

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
    assert suite.get("tests") == "7" and suite.get("failures") == "0" and suite.get("skipped") == "1"
    assert suite.get("errors") == "0"
    skipped = cases["latency_p99_ms[purchase,steady]"].find("skipped")
    assert skipped is not None and "too few successful purchases" in skipped.get("message")
    assert cases["verdict"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "pass" and props["seed"] == "7"


def test_fail_run_names_the_budgets_with_observed_and_limit(tmp_path: Path) -> None:
    root = _junit(tmp_path, "fail")
    cases = _cases(root)
    lost = cases["lost[purchase,all]"].find("failure")
    assert lost is not None
    assert lost.get("message") == "observed 2 vs limit ≤ 0 (2 acknowledged orders missing after failover)"
    assert cases["oversold[purchase,all]"].find("failure") is not None
    assert cases["failover_s[all,all]"].find("failure") is None
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
    assert list(cases) == ["verdict"]
    assert cases["verdict"].find("error").get("type") == "none"
    assert "result.json is missing" in cases["verdict"].find("error").text


def test_budget_message_units() -> None:
    assert budget_message({"metric": "failover_s", "limit": 10, "observed": 12.34, "detail": "pg1 → pg2"}) == \
        "observed 12.3 s vs limit ≤ 10 s (pg1 → pg2)"
    assert budget_message({"metric": "success_ratio", "limit": 0.999, "observed": 0.98}) == \
        "observed 98 % vs limit ≥ 99.90 %"
    assert budget_message({"metric": "latency_p99_ms", "limit": {"max": 500}, "observed": None}) == \
        "observed — vs limit ≤ 500 ms"
