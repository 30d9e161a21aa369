"""report.html draws the budgets on its charts (latency limits over the phase they judge, the outage budget on
the longest outage) and its headline cards say which budget they relate to and what they mean."""

from __future__ import annotations

import re
from pathlib import Path

from drills.report import render_run
from tests.unit.trendruns import make_run


def report(tmp_path: Path, overrides: dict) -> str:
    run = make_run(tmp_path / "run", overrides)
    html_path, _ = render_run(run)
    return html_path.read_text()


def group(html: str, gid: str) -> str:
    found = re.search(rf'<g id="{gid}"[^>]*>', html)
    assert found, gid
    return found.group(0)


def test_latency_budget_is_a_line_on_the_latency_chart(tmp_path: Path) -> None:
    html = report(tmp_path, {"budget:latency_p99_ms[purchase,all].limit.max": 700})
    g = group(html, "latency-budget-0")
    assert 'class="budget-limit"' in g and 'data-limit="700"' in g and 'data-phase="all"' in g
    assert "p99 budget ≤ 700 ms" in html   # its legend entry


def test_a_latency_budget_on_one_phase_is_drawn_over_that_phase_only(tmp_path: Path) -> None:
    html = report(tmp_path, {"budget:latency_p99_ms[purchase,all].phase": "steady"})
    assert 'data-phase="steady"' in group(html, "latency-budget-0")
    assert "p99 budget ≤ 2000 ms, steady" in html


def test_the_outage_budget_is_marked_on_the_longest_outage(tmp_path: Path) -> None:
    within = report(tmp_path / "a", {})
    assert 'data-over="no"' in group(within, r"success-outage-budget-\d+")
    over = report(tmp_path / "b", {"budget:longest_outage_s[purchase,all].limit.max": 5})
    g = group(over, r"success-outage-budget-\d+")
    assert 'data-over="yes"' in g and 'data-limit="5"' in g
    assert "outage budget ≤ 5 s (exceeded)" in over


def cards(html: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="card" data-card="([^"]+)">(.*?)</div></div>', html, re.S))


def test_cards_say_which_budget_and_what_they_mean(tmp_path: Path) -> None:
    html = report(tmp_path, {"budget:success_ratio[purchase,all].phase": "after_heal",
                             "budget:success_ratio[purchase,all].observed": 0.97})
    c = cards(html)
    assert "budget on after heal ≥ 75 % (observed 97 %)" in c["success_ratio"]
    assert "acknowledged operations / operations attempted" in c["success_ratio"]
    assert "budget ≤ 20 s" in c["failover_s"] and "new leader taking writes" in c["failover_s"]
    assert "no budget" in c["detection_s"]
    assert "data-loss budget(s)" in c["anomalies"]
    assert "What clients saw — purchase operations, whole run" in html
