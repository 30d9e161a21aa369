"""Comparing two runs and the reports index."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from drills.report import NotARunDir, ReportError, compare_runs, write_index
from drills.report.compare import change_text

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"


def recorded(kind: str) -> dict:
    return json.loads((FIXTURES / kind / "result.json").read_text())


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    for kind in ("pass", "fail", "aborted", "crashed"):
        shutil.copytree(FIXTURES / kind, tmp_path / kind)
    return tmp_path


def test_compare_reports_deltas(runs: Path) -> None:
    diff = compare_runs(runs / "pass", runs / "fail", runs)
    assert diff["a"]["verdict"] == "pass" and diff["b"]["verdict"] == "fail"
    budgets = {b["name"]: b for b in diff["budgets"]}
    a, b = recorded("pass")["availability"], recorded("fail")["availability"]
    failover = budgets["failover_s[purchase,all]"]
    assert failover["delta"] == pytest.approx(b["failover_s"] - a["failover_s"])
    assert failover["text"] == change_text("failover_s", a["failover_s"], b["failover_s"])[2]
    assert budgets["lost[purchase,all]"]["change"] == "regressed"
    assert budgets["lost[purchase,all]"]["text"] == "now fails; +2 (worse)"
    avail = {x["metric"]: x for x in diff["availability"]}
    sr = avail["success_ratio"]
    assert avail["failover_s"]["change"] == ("worse" if b["failover_s"] > a["failover_s"] else "better")
    assert sr["change"] == ("better" if sr["b"] > sr["a"] else "worse")  # higher is better for ratios
    audit = {x["name"]: x for x in diff["audit"]}
    assert audit["lost"]["delta"] == 2 and audit["acknowledged"]["change"] == "same"  # informational only
    html_path = Path(diff["html"])
    assert html_path.name == "compare-pass-vs-fail.html"
    html = html_path.read_text()
    assert failover["text"] in html and 'data-change="regressed"' in html
    assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', html)


def test_compare_with_a_crashed_run_and_bad_input(runs: Path) -> None:
    diff = compare_runs(runs / "crashed", runs / "pass", runs / "out.html")
    # the crashed run has no result.json: the checks judged it (no load_stopped: an error) before comparing
    assert diff["a"]["verdict"] == "error" and Path(diff["html"]).exists()
    assert not (runs / "crashed" / "result.json").exists()
    assert {b["name"]: b["change"] for b in diff["budgets"]}["lost[purchase,all]"] == "unknown"
    with pytest.raises(NotARunDir):   # a usage error (64), not an infrastructure error
        compare_runs(runs / "nope", runs / "pass", None)


def test_change_wording() -> None:
    assert change_text("failover_s", 10, 13)[1:] == ("worse", "3 s slower (worse)")
    assert change_text("longest_outage_s", 10, 8)[2] == "2 s shorter (better)"
    assert change_text("latency_p99_ms", 400, 380)[2] == "20 ms faster (better)"
    assert change_text("success_ratio", 0.99, 0.995)[2] == "+0.50 points (better)"
    assert change_text("lost", 0, None)[1:] == ("unknown", "only in A")


def test_index_lists_runs_newest_first(runs: Path) -> None:
    # give the runs distinct start times
    for i, kind in enumerate(("pass", "fail", "aborted")):
        p = runs / kind / "result.json"
        r = json.loads(p.read_text())
        r["started"] = 1764150000 + i * 3600
        p.write_text(json.dumps(r))
    os.utime(runs / "crashed", (1764150000 + 99999, 1764150000 + 99999))
    (runs / "not-a-run").mkdir()
    index = write_index(runs)
    assert index == runs / "index.html"
    html = index.read_text()
    order = re.findall(r'data-run="([^"]+)"', html)
    assert order[:3] == ["aborted", "fail", "pass"] and set(order) == {"pass", "fail", "aborted", "crashed"}
    assert 'data-run="crashed" data-verdict="none"' in html  # the index judges nothing: it stays quick
    assert "not-a-run" not in html
    assert 'href="pass/report.html"' not in html  # not rendered yet: no dead link
    assert 'href="pass/"' in html


def test_index_links_rendered_reports(runs: Path) -> None:
    from drills.report import render_run

    render_run(runs / "pass")
    html = write_index(runs).read_text()
    assert 'href="pass/report.html"' in html and 'href="pass/junit.xml"' in html
    with pytest.raises(ReportError):
        write_index(runs / "missing")
