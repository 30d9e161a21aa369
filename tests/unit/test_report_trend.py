"""`drill trend` and the runs index's links: per scenario one chart per key number (one series each) over its
runs, budget limits as lines, runs without a result listed, hostile text escaped and cut."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from drills.cli import main
from drills.errors import ExitCode
from drills.report import write_index
from drills.report.quote import QUOTE_MAX
from drills.report.trend import anchor, write_trend
from drills.rundir import files
from tests.unit.trendruns import make_run, make_series

FAILOVERS = [11.0, 12.5, 19.0]


@pytest.fixture()
def reports(tmp_path: Path) -> Path:
    folder = tmp_path / "reports"
    make_series(folder, [{"availability.failover_s": f, "budget:failover_s[purchase,all].observed": f}
                         for f in FAILOVERS])
    make_run(folder / "other", {"scenario": "leader-freeze", "availability.failover_s": 30.0}, day=1)
    return folder


def figures(html: str, scenario: str) -> dict[str, str]:
    """data-key -> the figure's HTML, in one scenario's section."""
    section = html.split(f'id="{anchor(scenario)}"', 1)[1].split("</section>", 1)[0]
    return dict(re.findall(r'<figure class="trend" data-key="([^"]+)">(.*?)</figure>', section, re.S))


def test_three_runs_give_a_series_per_key_number_with_budget_lines(reports: Path) -> None:
    assert main(["trend", str(reports)]) == ExitCode.PASS
    html = (reports / files.TREND).read_text()
    charts = figures(html, "leader-kill")
    assert {"failover_s", "success_ratio", "longest_outage_s", "recovery_s", "latency_p99_ms",
            "latency_p99_ms@steady", "lost", "duplicated", "oversold"} <= set(charts)
    for key, fig in charts.items():   # one series per metric, a point per run that knows it
        assert fig.count('class="series"') == 1 and f'data-metric="{key}"' in fig, key
        assert fig.count('class="point"') + fig.count('class="unknown"') == len(FAILOVERS), key
    values = re.findall(r'class="point"[^>]*data-value="([^"]+)"', charts["failover_s"])
    assert [float(v) for v in values] == FAILOVERS   # oldest left
    for key, budget in (("failover_s", "failover_s[purchase,all]"), ("success_ratio", "success_ratio[purchase,all]"),
                        ("lost", "lost[purchase,all]"), ("latency_p99_ms", "latency_p99_ms[purchase,all]")):
        assert f'class="limit" data-budget="{budget}"' in charts[key], key
    assert 'class="limit"' not in charts["detection_s"]   # no budget on it: no line
    # the limit is drawn at the limit: the failover budget's 20 s sits above the 19 s point
    assert "≤ 20 s" in charts["failover_s"]
    assert html.count('data-scenario="leader-freeze"') == 1 and 'href="run-2/"' in html


def test_a_budget_no_key_number_covers_gets_its_own_chart(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    runs = make_series(folder, [{}, {}])
    for run, observed in zip(runs, (0.97, 0.91), strict=True):
        doc = json.loads((run / "result.json").read_text())
        doc["budgets"].append({**doc["budgets"][0], "name": "success_ratio[purchase,after_heal]",
                               "phase": "after_heal", "limit": {"min": 0.95, "max": None},
                               "observed": observed, "passed": observed >= 0.95})
        (run / "result.json").write_text(json.dumps(doc))
    write_trend(folder)
    charts = figures((folder / files.TREND).read_text(), "leader-kill")
    own = charts["budget:success_ratio[purchase,after_heal]"]
    assert 'class="limit" data-budget="success_ratio[purchase,after_heal]"' in own
    assert "observed for purchase operations, phase after_heal" in own
    assert own.count('fill="#cf222e" data-run="run-1"') == 1          # the run that failed it is a red point
    assert 'after_heal' not in charts["success_ratio"].split('class="limit"', 1)[-1].split(">")[0]


def test_scenario_filter_writes_its_own_page_and_an_unknown_one_is_a_usage_error(reports: Path, capsys) -> None:
    assert main(["trend", str(reports), "--scenario", "leader-freeze"]) == ExitCode.PASS
    page = reports / files.trend_of(anchor("leader-freeze").removeprefix("trend-"))
    assert page.is_file() and 'data-scenario="leader-kill"' not in page.read_text()
    assert not (reports / files.TREND).exists()
    assert main(["trend", str(reports), "--scenario", "nope"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "no run of scenario 'nope'" in err and "leader-freeze, leader-kill" in err
    assert main(["trend", str(reports / "nothing-here")]) == ExitCode.USAGE


def test_html_elsewhere_links_back_to_the_runs(reports: Path, tmp_path: Path) -> None:
    out = tmp_path / "site" / "t.html"
    out.parent.mkdir()
    assert main(["trend", str(reports), "--html", str(out)]) == ExitCode.PASS
    assert 'href="../reports/run-0/report.html"' not in out.read_text()   # the fixture has no report.html
    assert 'href="../reports/run-0/"' in out.read_text()


def test_the_index_links_each_scenario_to_its_trend_and_each_run_to_the_previous_one(reports: Path) -> None:
    index = write_index(reports)
    assert index is not None
    html = index.read_text()
    trend = (reports / files.TREND).read_text()
    for scenario in ("leader-kill", "leader-freeze"):
        link = f'href="{files.TREND}#{anchor(scenario)}"'
        assert link in html and f'id="{anchor(scenario)}"' in trend
    rows = dict(re.findall(r'<tr data-run="([^"]+)"(.*?)</tr>', html, re.S))
    assert 'data-previous="run-1"' in rows["run-2"] and 'data-previous="run-0"' in rows["run-1"]
    assert "data-previous" not in rows["run-0"] and "data-previous" not in rows["other"]   # first of each


def test_runs_without_a_result_are_listed_not_drawn(reports: Path) -> None:
    (reports / "run-1" / "result.json").write_text("{not json")
    (reports / "run-2" / "result.json").unlink()
    write_trend(reports)
    html = (reports / files.TREND).read_text()
    charts = figures(html, "leader-kill")
    assert charts["failover_s"].count('class="point"') == 1
    assert "run-1: result.json is corrupt: not valid JSON" in html
    assert "run-2: result.json is missing: `drill report RUN_DIR` judges it" in html


def test_hostile_text_is_escaped_and_cut(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    evil = "<script>alert(1)</script>" + "x" * (QUOTE_MAX * 3)
    make_series(folder, [{"scenario": evil, "budgets": [{"name": "<b>" * 5000, "metric": "failover_s", "op": "a",
                                                         "phase": "all", "limit": {"min": None, "max": 1e308},
                                                         "observed": "NaN", "passed": "yes"}]}] * 2)
    path = write_trend(folder)
    assert path is not None
    html = path.read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html
    assert "bytes cut)" in html and len(html) < 400_000


def test_a_trend_page_drills_did_not_write_is_left_alone(reports: Path) -> None:
    mine = reports / files.TREND
    mine.write_text("<html>my own page</html>")
    said: list[str] = []
    assert write_trend(reports, log=said.append) is None
    assert mine.read_text() == "<html>my own page</html>" and "not written by drills" in said[0]
    index = write_index(reports, log=said.append)   # the index is still written, without trend links
    assert index is not None and files.TREND + "#" not in index.read_text()
