"""report.html from the fixture run directories: self-contained, complete, honest about what is missing."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from drills.report import render_run
from tests.unit.fixtures.make_runs import synthesize

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"
KINDS = ("pass", "fail", "aborted", "crashed")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Each fixture run copied and rendered once for the module (the fixtures stay untouched)."""
    out = {}
    base = tmp_path_factory.mktemp("runs")
    for kind in KINDS:
        run = base / kind
        shutil.copytree(FIXTURES / kind, run)
        html_path, junit_path = render_run(run)
        assert html_path == run / "report.html" and junit_path == run / "junit.xml"
        out[kind] = (run, html_path.read_text(encoding="utf-8"))
    return out


def _fault_keys(run: Path) -> set[str]:
    keys = set()
    for line in (run / "events.jsonl").read_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue  # the crashed fixture's truncated last line
        if e.get("kind") == "fault" and e.get("phase") == "inject":
            keys.add(f"{e['fault_id']}-{e['iteration']}")
    return keys


@pytest.mark.parametrize("kind", KINDS)
def test_report_is_self_contained(rendered: dict, kind: str) -> None:
    _run, html = rendered[kind]
    assert html.startswith("<!DOCTYPE html>")
    # nothing is fetched: no src/href/url() pointing anywhere but inside the page
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', html, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html, re.I)
    assert not re.search(r"<(?:link|iframe|object|embed)\b", html, re.I)
    assert "<script src" not in html and "@import" not in html
    assert "do-not-show-me" not in html  # meta.json's run_secret is never shown


@pytest.mark.parametrize("kind", KINDS)
def test_every_fault_interval_is_shaded_in_every_timeline_chart(rendered: dict, kind: str) -> None:
    run, html = rendered[kind]
    keys = _fault_keys(run)
    assert keys
    for chart in ("ops", "latency", "success", "roles", "generator"):
        assert f'data-chart="{chart}"' in html
        for key in keys:
            assert f'id="{chart}-fault-{key}" class="fault-span"' in html, (chart, key)
    groups = re.findall(r'<g id="ops-fault-([^"]+)" class="fault-span" data-fault-id="([^"]+)" '
                        r'data-iteration="(\d+)" data-fault-type="(\w+)" data-start-s="([\d.]+)" '
                        r'data-end-s="([\d.]*)"><title>([^<]*)</title>', html)
    assert {g[0] for g in groups} == keys
    # the labels above the plot name the fault
    assert ">kill-leader" in html


def test_pass_report(rendered: dict) -> None:
    _run, html = rendered["pass"]
    assert 'class="banner pass"' in html and ">PASS<" in html
    assert "leader-kill" in html and "Kill the Patroni leader with SIGKILL" in html
    for budget in ("success_ratio[purchase,all]", "failover_s[all,all]", "latency_p99_ms[purchase,steady]"):
        assert f'data-budget="{budget}"' in html
    assert 'data-budget="latency_p99_ms[purchase,steady]" data-passed="unknown"' in html
    assert "≤ 20 s" in html and "11.2 s" in html
    assert "drill run scenarios/leader-kill.yaml --seed 7" in html  # the re-run command from meta.json
    assert "sha256:5f0c1d2e3a4b" in html and "15.10" in html        # image ids and versions
    assert '<g id="ops-outage-0" class="outage-span" data-op="purchase"' in html
    # the scenario YAML is shown escaped
    assert "a comment with &lt;html&gt; &amp; &quot;quotes&quot;" in html
    assert "role=\"img\"" in html and "svg.chart" in html


def test_fail_report_shows_data_loss_with_samples(rendered: dict) -> None:
    _run, html = rendered["fail"]
    assert 'class="banner fail"' in html
    assert 'data-passed="FAIL"' in html
    assert 'data-anomaly="lost" class="failed"' in html and 'data-anomaly="oversold" class="failed"' in html
    assert 'data-samples="lost"' in html and 'data-samples="oversold"' in html
    assert "2 acknowledged orders missing after failover" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # no series in result.json: the report computed it from the history
    assert "source: history*.jsonl" in html


def test_aborted_report_says_why(rendered: dict) -> None:
    _run, html = rendered["aborted"]
    assert 'class="banner aborted"' in html and "ABORTED" in html
    assert "Stopped by: error_ratio 0.93 &gt; 0.9 over 10s" in html
    # the result's series has epoch stamps; they must land on the load's time axis
    assert "source: result.json" in html


def test_crashed_run_without_result_renders_what_exists(rendered: dict) -> None:
    run, html = rendered["crashed"]
    assert not (run / "result.json").exists()
    assert 'class="banner error"' in html and "NO VERDICT" in html
    assert "result.json is missing" in html
    assert "final-state.json is missing." in html
    for name in ("events.jsonl", "probes.jsonl", "history.jsonl"):
        assert f"{name}: last line truncated" in html
    assert "has no heal event" in html and "kill-leader (not healed)" in html
    assert 'data-end-s=""' in html                          # shaded to the end of the chart
    assert "computed by the report from history*.jsonl" in html
    assert "record ends" in html
    assert "No audit (the checks did not run)" in html


def test_expected_failure_is_a_passed_self_test(tmp_path: Path) -> None:
    run = tmp_path / "selftest"
    shutil.copytree(FIXTURES / "fail", run)
    result = json.loads((run / "result.json").read_text())
    result.update(expected="fail", self_test_passed=True)
    (run / "result.json").write_text(json.dumps(result))
    html = render_run(run)[0].read_text()
    assert "FAILED AS EXPECTED — SELF-TEST PASSED" in html and 'class="banner pass"' in html


@pytest.mark.parametrize("damage", ["empty", "garbage", "partial"])
def test_damaged_or_empty_run_directories_never_raise(tmp_path: Path, damage: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    if damage == "garbage":
        for name in ("result.json", "meta.json", "events.jsonl", "history.jsonl", "stats.jsonl", "probes.jsonl"):
            (run / name).write_text("{not json\n[1,2]\n\"text\"\n")
        (run / "scenario.yaml").write_text("name: [unclosed\n")
    elif damage == "partial":
        (run / "result.json").write_text(json.dumps({
            "verdict": "fail", "budgets": [{"metric": "lost", "observed": "n/a", "passed": False}, "not a dict"],
            "audit": {"lost": None, "samples": {"lost": "not a list"}},
            "availability": {"series": [{"t": "x"}, {"t": 3, "ok": "2"}], "outages": [{"start": None}, "x"]},
            "faults": [{"id": "f", "type": "latency", "injected_s": 1, "healed_s": 2}, None]}))
    html_path, junit_path = render_run(run)
    html = html_path.read_text()
    assert "<!DOCTYPE html>" in html and "could not be rendered" not in html
    assert junit_path.read_text().startswith("<?xml")


def test_ten_minute_drill_report_stays_small(tmp_path: Path) -> None:
    run = synthesize(tmp_path / "long", kind="fail", duration_s=600, rate=40, probe_every=0.5, repeat_every=30,
                     workers=2, with_series=False)
    html_path = render_run(run)[0]
    size = html_path.stat().st_size
    assert size < 5_000_000, size
    html = html_path.read_text()
    assert html.count('class="fault-span"') >= 5 * 20  # every repeat shaded in every chart
