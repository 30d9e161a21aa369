"""`drill compare BASELINE RUN --fail-on-regression`: a planted regression trips the gate, a planted improvement
does not, tolerances (defaults per unit, --tolerance) are respected, and --json says the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest

from drills.cli import main
from drills.errors import ExitCode
from drills.report import compare_runs
from drills.report.keynumbers import GATED, KEY_NUMBERS, TOLERANCE_BY_UNIT, Tolerance, default_tolerance
from drills.report.regression import gate
from drills.scenario.metrics import METRICS, Unit
from tests.unit.trendruns import make_run

README = Path(__file__).resolve().parents[2] / "README.md"
BASE = {"availability.failover_s": 11.0, "budget:failover_s[purchase,all].observed": 11.0}


def pair(tmp_path: Path, run: dict, base: dict | None = None) -> tuple[Path, Path]:
    a = make_run(tmp_path / "baseline", base if base is not None else BASE, day=0)
    b = make_run(tmp_path / "run", {**BASE, **run}, day=1)
    return a, b


def compare(a: Path, b: Path, *extra: str) -> int:
    return main(["compare", str(a), str(b), *extra])


def test_a_planted_regression_trips_the_gate_and_says_which(tmp_path: Path, capsys) -> None:
    a, b = pair(tmp_path, {"availability.failover_s": 16.0})   # 5 s slower: more than 2 s or 20 % (2.2 s)
    assert compare(a, b) == ExitCode.PASS                       # without the flag: a report, never a failure
    assert compare(a, b, "--fail-on-regression") == ExitCode.REGRESSION
    out = capsys.readouterr().out
    assert "1 regression(s)" in out and "failover 11 s → 16 s: worse by 5 s" in out


def test_a_planted_improvement_does_not_trip_it(tmp_path: Path) -> None:
    a, b = pair(tmp_path, {"availability.failover_s": 7.0, "availability.success_ratio": 0.95,
                           "availability.latency_ms.p99": 120, "availability.longest_outage_s": 4.0})
    assert compare(a, b, "--fail-on-regression") == ExitCode.PASS
    g = compare_runs(a, b)["gate"]
    statuses = {c["key"]: c["status"] for c in g["checks"]}
    assert statuses["failover_s"] == statuses["success_ratio"] == statuses["latency_p99_ms"] == "better"
    assert g["regressions"] == [] and g["regressed"] is False


@pytest.mark.parametrize(("run", "tolerance", "regressed"), [
    ({"availability.failover_s": 13.0}, [], False),                        # +2 s: within 2 s or 20 % (2.2 s)
    ({"availability.failover_s": 13.5}, [], True),                         # +2.5 s: beyond it
    ({"availability.failover_s": 13.5}, ["failover_s=3"], False),          # an absolute tolerance widens it
    ({"availability.failover_s": 13.5}, ["failover_s=10%"], True),         # 10 % of 11 s is 1.1 s
    ({"availability.failover_s": 13.5}, ["failover_s=30%"], False),        # 30 % is 3.3 s
    ({"availability.success_ratio": 0.81}, [], True),                      # higher is better: 1.7 points lost
    ({"availability.success_ratio": 0.81}, ["success_ratio=0.02"], False),
    ({"audit.lost": 1}, [], True),                                         # counts may not grow at all
    ({"audit.lost": 1}, ["lost=1"], False),
    ({"availability.latency_ms.p99": 560}, [], False),                     # 462 → 560: within 25 % (115 ms)
    ({"availability.latency_ms.p99": 600}, [], True),
])
def test_tolerance_is_respected(tmp_path: Path, run: dict, tolerance: list[str], regressed: bool) -> None:
    a, b = pair(tmp_path, run)
    args = [x for t in tolerance for x in ("--tolerance", t)]
    expected = ExitCode.REGRESSION if regressed else ExitCode.PASS
    assert compare(a, b, "--fail-on-regression", *args) == expected


def test_a_budget_that_now_fails_and_a_verdict_gone_bad_are_regressions(tmp_path: Path) -> None:
    # the number moved within its tolerance, but across the budget's limit: the budget is the user's tolerance
    a, b = pair(tmp_path, {"budget:longest_outage_s[purchase,all].passed": False, "verdict": "fail"})
    g = compare_runs(a, b)["gate"]
    assert g["budgets"][0]["status"] == "regression" and g["verdict"]["status"] == "regression"
    assert any("budget longest_outage_s[purchase,all] held in the baseline and fails now" in r
               for r in g["regressions"])
    assert "verdict PASS in the baseline, FAIL now" in g["regressions"]
    # the other way round is a fix, not a regression
    assert gate(json.loads((b / "result.json").read_text()),
                json.loads((a / "result.json").read_text()))["regressed"] is False


def test_a_number_known_on_one_side_only_is_unknown_not_a_regression(tmp_path: Path) -> None:
    a, b = pair(tmp_path, {"availability.failover_s": None})
    g = compare_runs(a, b)["gate"]
    assert {c["key"]: c["status"] for c in g["checks"]}["failover_s"] == "unknown"
    assert g["regressed"] is False


def test_json_output(tmp_path: Path, capsys) -> None:
    a, b = pair(tmp_path, {"availability.failover_s": 16.0})
    capsys.readouterr()
    assert compare(a, b, "--json", "--fail-on-regression", "--tolerance", "latency_p99_ms=40%") \
        == ExitCode.REGRESSION
    doc = json.loads(capsys.readouterr().out)
    assert doc["gate"]["regressed"] is True and doc["gate"]["tolerances_given"] == ["latency_p99_ms"]
    assert doc["gate"]["tolerances"]["latency_p99_ms"] == "40 % of the baseline"
    row = next(c for c in doc["gate"]["checks"] if c["key"] == "failover_s")
    assert row == {**row, "baseline": 11.0, "value": 16.0, "worse_by": 5.0, "status": "regression"}
    assert doc["a"]["path"] == str(a) and doc["availability"]


@pytest.mark.parametrize(("arg", "why"), [
    ("failover=3", "not a gated metric"),
    ("failover_s=fast", "expected METRIC=VALUE"),
    ("failover_s=-1", "expected METRIC=VALUE"),
    ("success_ratio=5", "is a ratio"),
])
def test_a_bad_tolerance_is_a_usage_error(tmp_path: Path, capsys, arg: str, why: str) -> None:
    a, b = pair(tmp_path, {})
    with pytest.raises(SystemExit) as exc:   # argparse: the usage line, one error line, exit 64
        compare(a, b, "--tolerance", arg)
    assert exc.value.code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert why in err and "Traceback" not in err


def test_the_html_comparison_shows_the_gate(tmp_path: Path) -> None:
    a, b = pair(tmp_path, {"availability.failover_s": 16.0})
    html = Path(compare_runs(a, b, tmp_path / "diff.html")["html"]).read_text()
    assert 'id="gate" data-regressed="yes"' in html and "failover 11 s → 16 s" in html


def test_every_unit_has_a_default_tolerance_and_the_readme_prints_them() -> None:
    assert set(TOLERANCE_BY_UNIT) == set(get_args(Unit))
    text = README.read_text()
    for unit, tol in TOLERANCE_BY_UNIT.items():
        metric = next(m for m in METRICS if METRICS[m].unit == unit)
        assert f"| {unit} | {tol.text(metric)} |" in text, (unit, tol.text(metric))
    assert default_tolerance("failover_s") == Tolerance(2.0, 0.2)
    # every gated metric is a budget metric with a direction; every key number's metric is in the registry
    assert all(k.metric in METRICS for k in KEY_NUMBERS) and set(GATED) <= set(METRICS)
