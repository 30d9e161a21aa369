"""trend.html in headless Chromium, as the report's browser test opens report.html (its PipeBrowser and helpers):
no console error, no network request, one drawn series per key number, budget lines drawn. No Docker needed;
skips where Chromium is not installed (scripts/ensure-chromium.sh)."""

from __future__ import annotations

from pathlib import Path

from drills.report import write_index
from drills.rundir import files
from tests.integration.test_report_browser import ARTIFACTS, PipeBrowser, _load, _problems, browser  # noqa: F401
from tests.unit.trendruns import make_run, make_series


def test_trend_page_in_chromium(browser: PipeBrowser, tmp_path: Path) -> None:  # noqa: F811
    make_series(tmp_path, [{"availability.failover_s": f} for f in (11.0, 12.5, 19.0)])
    make_run(tmp_path / "other", {"scenario": "leader-freeze"}, day=1)
    write_index(tmp_path)
    page = tmp_path / files.TREND
    events = _load(browser, page)
    errors, requests = _problems(events, page.resolve().as_uri())
    assert errors == [], f"console errors: {errors}"
    assert requests == [], f"the page made network requests: {requests}"
    sections = browser.evaluate("Array.from(document.querySelectorAll('section.scenario'))"
                                ".map(s => s.dataset.scenario)")
    assert sections == ["leader-freeze", "leader-kill"]
    per_figure = browser.evaluate(
        "Array.from(document.querySelectorAll('section.scenario figure.trend')).map(f => ["
        "f.closest('section').dataset.scenario, f.dataset.key, f.querySelectorAll('path.series').length,"
        "f.querySelector('path.series').getAttribute('data-metric'),"
        "f.querySelector('path.series').getBoundingClientRect().width,"
        "f.querySelectorAll('circle.point').length])")
    assert isinstance(per_figure, list) and len(per_figure) > 20
    keys = [(s, k) for s, k, *_ in per_figure]
    assert len(keys) == len(set(keys)), "a key number drawn twice in one scenario"
    for scenario, key, series, metric, _width, points in per_figure:
        assert series == 1 and metric == key, (scenario, key, series, metric)
        assert points <= (3 if scenario == "leader-kill" else 1)
    failover = next(f for f in per_figure if f[:2] == ["leader-kill", "failover_s"])
    assert failover[4] > 100 and failover[5] == 3       # a line through three points, really drawn
    limits = browser.evaluate("Array.from(document.querySelectorAll('#' + CSS.escape(document.querySelector("
                              "'section[data-scenario=\"leader-kill\"]').id) + ' path.limit'))"
                              ".map(p => p.getBoundingClientRect().width)")
    assert limits and all(w > 100 for w in limits), limits
    browser.screenshot(ARTIFACTS / "trend.png")
    assert (ARTIFACTS / "trend.png").stat().st_size > 10_000
