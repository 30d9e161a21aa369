"""report.html's "Disaster recovery" section, and the charts' disaster and restore bands, on judged runs."""

from __future__ import annotations

import re
from pathlib import Path

from drills.checks import write_result
from drills.report import render_run
from drills.report.summary import print_summary
from drills.scenario.model import Budget
from tests.unit.test_checks_builder import Run
from tests.unit.test_checks_recovery import DR_BUDGETS, destroyed_and_restored, failed_restore_run


def rendered(run: Run, *budgets: Budget) -> tuple[dict, str]:
    result = run.judge(*budgets)
    write_result(run.dir, result)
    html_path, junit_path = render_run(run.dir)
    assert junit_path.is_file()
    html = html_path.read_text(encoding="utf-8")
    assert "could not be rendered" not in html
    return result, html


def section(html: str) -> str:
    m = re.search(r'<section id="disaster-recovery">(.*?)</section>', html, re.S)
    assert m, "no disaster recovery section"
    return m.group(1)


def test_recovery_section_shows_rto_rpo_timeline_catalogue_and_losses(tmp_path: Path) -> None:
    result, html = rendered(destroyed_and_restored(tmp_path / "run"), *DR_BUDGETS)
    assert 'href="#disaster-recovery"' in html
    dr = section(html)
    # headline numbers next to their budgets
    rto_card = re.search(r'<div class="card" data-dr="rto_s">(.*?)</div></div>', dr, re.S)
    assert rto_card and "13 s" in rto_card.group(1) and "≤ 30 s" in rto_card.group(1) and "pass" in rto_card.group(1)
    assert 'data-dr="rpo_s"' in dr and "2.9 s" in dr and 'data-dr="rpo_ops"' in dr and "≤ 200" in dr
    assert "31 purchases, 1 password changes" in dr
    assert 'data-dr="restore-point"' in dr and "3 s before the disaster" in dr
    # the timeline, in order
    steps = re.findall(r'data-step="([a-z_]+)"', dr)
    assert steps == ["disaster", "restore_started", "cluster_removed", "leader", "first_purchase", "healthy",
                     "restore_finished"]
    # restore and catalogue
    assert 'data-restore="restore" data-ok="true"' in dr and "<code>F1_I2</code>" in dr
    assert re.findall(r'data-backup="([^"]+)"', dr) == ["F1", "F1_I2"]
    assert "used by the restore" in dr and "31.5 MB" in dr and "81.9 kB" in dr
    # the lost acknowledged operations, before and after recovery
    assert re.search(r'data-lost="by_restore"><summary><span>lost by the restore: 32</span>', dr)
    assert "<code>key-171</code>" in dr and "17.01 s" in dr and "version 2 → 1" in dr
    assert re.search(r'data-lost="after_recovery"><b>lost after recovery</b>: <span>none', dr)
    assert 'data-lost="resold"' in dr and "resale" in dr
    # self-contained still
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', html, re.I)
    assert result["verdict"] == "pass"


def test_charts_show_the_disaster_and_the_restore_as_its_own_interval(tmp_path: Path) -> None:
    _result, html = rendered(destroyed_and_restored(tmp_path / "run"), *DR_BUDGETS)
    restores = re.findall(r'<g id="(\w+)-fault-restore-0" class="fault-span"[^>]*data-fault-type="restore_cluster" '
                          r'data-start-s="([\d.]+)" data-end-s="([\d.]+)"', html)
    assert {chart for chart, _, _ in restores} >= {"ops", "latency", "success"}
    assert {(start, end) for _, start, end in restores} == {("25.000", "36.000")}
    disasters = re.findall(r'class="fault-span"[^>]*data-fault-type="destroy_cluster" data-start-s="([\d.]+)" '
                           r'data-end-s="([\d.]+)"', html)
    assert disasters and set(disasters) == {("20.000", "50.000")}
    assert "■ disaster" in html and "■ restore (from its start to its end)" in html
    # the fault table names both, in their colours
    assert 'id="fault-restore-0"' in html and 'id="fault-lose-cluster-0"' in html


def test_failed_restore_report_renders_a_fail_with_never_recovered(tmp_path: Path) -> None:
    result, html = rendered(failed_restore_run(tmp_path / "run"), *DR_BUDGETS)
    assert result["verdict"] == "fail"
    assert 'data-verdict="fail"' in html
    dr = section(html)
    assert "never recovered" in dr and "at least 40 s" in dr
    assert 'data-restore="restore" data-ok="false" class="failed"' in dr
    assert "backup files missing" in dr and "every backup set is unusable" in dr
    assert "Unknown: the final state is missing" in dr
    assert 'data-budget="rto_s[purchase,all]" data-passed="FAIL"' in html
    assert "≥ 40 s" in html  # the budget table shows the lower bound
    junit = (tmp_path / "run" / "junit.xml").read_text()
    case = re.search(r'<testcase [^>]*name="rto_s\[purchase,all\]".*?</testcase>', junit, re.S)
    assert case and "<failure" in case.group(0) and 'skipped="3"' in junit  # the unknown data-loss budgets
    assert 'message="observed ≥ 40 s vs limit ≤ 30 s (never recovered: ' in case.group(0)


def test_no_recovery_section_without_disasters(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.1)
    run.fault("kill-leader", 30.0, 45.0)
    run.final_from_history()
    result, html = rendered(run, Budget("lost", max=0))
    assert "disaster_recovery" not in result
    assert 'id="disaster-recovery"' not in html and "#disaster-recovery" not in html
    assert "■ disaster" not in html


def test_console_summary_has_a_recovery_line(tmp_path: Path) -> None:
    from rich.console import Console

    result = failed_restore_run(tmp_path / "run").judge(*DR_BUDGETS)
    console = Console(record=True, width=200)
    print_summary(console, result)
    text = console.export_text()
    assert "disaster recovery: RTO never recovered (≥ 40 s)" in text and "lost by the restore —" in text
