"""report.html from the fixture run directories: self-contained, complete, honest about what is missing."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from drills.checks import stored
from drills.report import render_run
from drills.report.fmt import num
from drills.scenario import default_budgets
from drills.scenario.model import Phases
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
    run, html = rendered["pass"]
    result = json.loads((run / "result.json").read_text())
    assert 'class="banner pass"' in html and ">PASS<" in html
    assert "leader-kill" in html and "Kill the Patroni leader with SIGKILL" in html
    for budget in ("success_ratio[purchase,all]", "failover_s[purchase,all]", "latency_p99_ms[purchase,all]"):
        assert f'data-budget="{budget}" data-passed="pass"' in html
    assert "≤ 20 s" in html and num(result["availability"]["failover_s"], "s") in html
    assert "drill run scenarios/leader-kill.yaml --seed 7" in html  # the re-run command from meta.json
    assert "sha256:5f0c1d2e3a4b" in html and "15.10" in html        # image ids and versions
    assert '<g id="ops-outage-0" class="outage-span" data-op="purchase"' in html
    # the scenario YAML is shown escaped
    assert "a comment with &lt;html&gt; &amp; &quot;quotes&quot;" in html
    assert "role=\"img\"" in html and "svg.chart" in html
    assert "Read this first" not in html  # a complete run has nothing to warn about


@pytest.mark.parametrize("kind", KINDS)
def test_a_toxiproxy_fault_is_never_drawn_as_cut_off(rendered: dict, kind: str) -> None:
    """Only network partitions cut a node off (probes.jsonl's cut_off); a latency toxic slows a link down."""
    _run, html = rendered[kind]
    assert 'data-fault-type="latency"' in html or kind in ("aborted", "crashed")
    assert "cut off (network)" not in html


def test_fail_report_shows_data_loss_with_samples(rendered: dict) -> None:
    _run, html = rendered["fail"]
    assert 'class="banner fail"' in html
    assert 'data-passed="FAIL"' in html
    assert "lost[purchase,all]: observed 2 outside &lt;= 0" in html   # the checks' reasons, in the banner
    assert 'data-anomaly="lost" class="failed"' in html and 'data-anomaly="oversold" class="failed"' in html
    assert 'data-samples="lost"' in html and 'data-samples="oversold"' in html
    assert "no order with this key or order id" in html
    assert re.search(r'data-anomaly="anomalies"[^>]*><td><b>anomalies</b></td><td><span class="num ">3<', html)


def test_values_from_the_run_are_escaped(tmp_path: Path) -> None:
    run = tmp_path / "fail"
    shutil.copytree(FIXTURES / "fail", run)
    result = json.loads((run / "result.json").read_text())
    result["audit"]["samples"]["oversold"][0]["note"] = "<script>alert(1)</script>"
    (run / "result.json").write_text(json.dumps(result))
    html = render_run(run)[0].read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_aborted_report_says_why(rendered: dict) -> None:
    _run, html = rendered["aborted"]
    assert 'class="banner aborted"' in html and "ABORTED" in html
    assert "aborted: error_ratio 0.93 &gt; 0.9 over 10s" in html
    assert 'data-budget="failover_s[purchase,all]" data-passed="unknown"' in html  # still out at load stop


def test_crashed_run_without_result_is_judged_then_rendered(rendered: dict) -> None:
    run, html = rendered["crashed"]
    assert not (run / "result.json").exists()   # rendering judges in memory; `drill report` writes it
    assert 'class="banner error"' in html and 'data-verdict="error"' in html
    assert "no load_stopped event: the run stopped half-way (crashed?)" in html
    assert "result.json is missing: the run did not reach its checks" in html
    assert "The checks judged the recorded files now." in html
    assert "final-state.json is missing." in html
    for name in ("events.jsonl", "probes.jsonl", "history.jsonl"):
        assert re.search(fr"{re.escape(name)}:\d+: truncated last line skipped", html), name
    assert "has no heal event" in html and "kill-leader (not healed)" in html
    assert 'data-end-s=""' in html                          # shaded to the end of the chart
    assert 'data-anomaly="lost"' in html and "data-samples=" not in html   # audited: unknown, no final state
    assert 'data-budget="lost[purchase,all]" data-passed="unknown"' in html


def test_a_run_whose_scenario_is_unreadable_is_judged_with_default_phases(tmp_path: Path) -> None:
    run = tmp_path / "crashed"
    shutil.copytree(FIXTURES / "crashed", run)
    (run / "scenario.yaml").write_text("name: [unclosed\n")
    events = (run / "events.jsonl").read_text().splitlines()
    (run / "events.jsonl").write_text("".join(x + "\n" for x in events if '"kind":"phase"' not in x))
    found = stored.load(run)
    assert found.origin == "judged" and found.result["notes"][0].startswith("scenario.yaml could not be read")
    # no phase events: the default phases bound them (warm-up 10 s, then steady until the record ends)
    phases = found.result["availability"]["phases"]
    assert phases["warmup"] == [[0.0, 10.0]] and phases["steady"][0][0] == 10.0
    assert [b["name"] for b in found.result["budgets"]] == [b.display for b in default_budgets(Phases())]
    html = render_run(run)[0].read_text()
    assert "scenario.yaml could not be read" in html and "judged with the default phases" in html
    assert 'data-budget="longest_outage_s[purchase,all]"' in html and 'data-budget="lost[purchase,all]"' in html
    assert 'class="banner error"' in html


def test_expected_failure_is_a_passed_self_test(tmp_path: Path) -> None:
    run = tmp_path / "selftest"
    shutil.copytree(FIXTURES / "fail", run)
    result = json.loads((run / "result.json").read_text())
    result.update(expected="fail", self_test_passed=True)
    (run / "result.json").write_text(json.dumps(result))
    html = render_run(run)[0].read_text()
    assert "FAILED AS EXPECTED — SELF-TEST PASSED" in html and 'class="banner pass"' in html


@pytest.mark.parametrize("damage", ["garbage", "partial"])
def test_damaged_run_directories_never_raise(tmp_path: Path, damage: str) -> None:
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
                     workers=2)
    html_path = render_run(run)[0]
    size = html_path.stat().st_size
    assert size < 5_000_000, size
    html = html_path.read_text()
    assert html.count('class="fault-span"') >= 5 * 20  # every repeat shaded in every chart


def test_an_unprotected_leader_is_listed_only_when_the_checks_saw_one(tmp_path: Path, rendered: dict) -> None:
    assert 'id="protection"' not in rendered["pass"][1]  # a protected leader throughout: no section
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "pass", run)
    result = json.loads((run / "result.json").read_text())
    result["cluster"]["nodes"]["pg1"] = [
        {"start_s": 0.0, "end_s": 12.5, "state": "leader", "cut_off": False},
        {"start_s": 12.5, "end_s": 16.0, "state": "leader_unprotected", "cut_off": False},
        {"start_s": 16.0, "end_s": 30.0, "state": "leader_unprotected", "cut_off": True}]
    (run / "result.json").write_text(json.dumps(result))
    html = (render_run(run)[0]).read_text()
    section = html[html.index('id="protection"'):]
    section = section[:section.index("</section>")]
    assert "Leader without a synchronous standby" in section
    assert section.count("<tr") == 3 and "3.5 s" in section and "14 s" in section  # header + two spans
    assert "cut off by a network fault" in section


def test_a_fault_on_several_links_keeps_them_all(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "pass", run)
    result = json.loads((run / "result.json").read_text())
    fault = next(f for f in result["faults"] if f["type"] == "latency")
    fault["link"] = ["api1_db", "api2_db"]  # what a pattern like api*_db records
    (run / "result.json").write_text(json.dumps(result))
    html = render_run(run)[0].read_text()
    assert "link api1_db, api2_db" in html and "a list where text or null belongs" not in html


def test_a_recovery_phase_that_waited_for_a_heal_shows_the_gap(tmp_path: Path) -> None:
    """The drill started recovery 4 s late (a heal still running at the end of steady): every timeline chart
    shades the gap, and the notes say why."""
    run = tmp_path / "late"
    shutil.copytree(FIXTURES / "pass", run)
    (run / "result.json").unlink()   # judged again from the edited events
    lines = (run / "events.jsonl").read_text().splitlines()
    late = ['{"t":1764150054.0,"mono":854.0,"kind":"run","name":"recovery_delayed","by_s":4.0}'
            if '"name":"recovery"' in x else x for x in lines]
    late.append('{"t":1764150054.0,"mono":854.0,"kind":"phase","name":"recovery","start_s":54.0,"end_s":64.0}')
    (run / "events.jsonl").write_text("".join(x + "\n" for x in late))
    html = render_run(run)[0].read_text()
    for chart in ("ops", "latency", "success", "roles", "generator"):
        assert f'<g id="{chart}-before-recovery" class="phase-gap" data-start-s="50.000" data-end-s="54.000">' in html
    assert "so recovery started late; no phase" in html and "time spent waiting for heals, in no phase" in html
    assert "the recovery phase started 4.0 s after the end of steady" in html
    assert "phase-gap" not in render_run(_copy(FIXTURES / "pass", tmp_path / "on-time"))[0].read_text()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
