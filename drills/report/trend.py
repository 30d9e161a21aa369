"""`drill trend`: per scenario, its key numbers over its runs, with the budget limits drawn as lines.

One self-contained page like report.html (no network, every string escaped and cut, drills.report.htmlkit),
read from every run's result.json in a reports folder (drills.report.runlist; nothing is judged here: a run
without a readable result.json is listed with what is wrong with it). Per scenario: its verdicts in a strip,
then a chart per key number it has (drills/report/keynumbers.py: one series each), with the limits of the
budgets on that number; a budget on a scope no key number covers (success_ratio in after_heal, an op other
than the headline's) gets a chart of its own observed values. The runs index links each scenario here.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from drills.report.fmt import limit_text, meaning, metric_value, when
from drills.report.htmlkit import esc, items_html, page, pill
from drills.report.keynumbers import KEY_NUMBERS, KeyNumber
from drills.report.render import ReportError, write_atomic
from drills.report.runlist import BudgetPoint, RunEntry, list_runs, may_overwrite
from drills.report.trendchart import LimitLine, RunMark, line_chart, run_href
from drills.rundir import files
from drills.scenario.metrics import METRICS

MAX_RUNS = 200            # the latest runs of each scenario drawn (older ones are counted, not drawn)
MAX_BUDGET_CHARTS = 30    # charts of budgets no key number covers, per scenario

TREND_CSS = """
.trend-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:6px 18px}
figure.trend{margin:6px 0}figure.trend h3{margin:6px 0 0}figure.trend p{margin:0;font-size:12px}
svg.trend text{font:10px "DejaVu Sans",Helvetica,Arial,sans-serif;fill:#57606a}
svg.trend text.limit-label{fill:#cf222e;font-weight:600}svg.trend text.unknown{fill:#8c959f}
ol.verdict-strip{list-style:none;display:flex;flex-wrap:wrap;gap:3px;padding:0;margin:6px 0}
ol.verdict-strip a{text-decoration:none}
"""


@dataclass
class ScenarioTrend:
    """The judged runs of one scenario (oldest first, the latest MAX_RUNS) and those without a result."""

    name: str
    runs: list[RunEntry] = field(default_factory=list)
    unjudged: list[RunEntry] = field(default_factory=list)
    left_out: int = 0

    @property
    def anchor(self) -> str:
        return anchor(self.name)


def anchor(scenario: str) -> str:
    """The id of a scenario's section in trend.html (the runs index links to it): readable and unique."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", scenario)[:48].strip("-")
    return f"trend-{readable}-{hashlib.sha1(scenario.encode('utf-8', 'replace')).hexdigest()[:6]}"


def group(entries: Iterable[RunEntry], scenario: str | None = None) -> list[ScenarioTrend]:
    """The runs by scenario (sorted by name); only `scenario` when given."""
    by: dict[str, ScenarioTrend] = {}
    for e in entries:
        if scenario is not None and e.scenario != scenario:
            continue
        t = by.setdefault(e.scenario, ScenarioTrend(e.scenario))
        (t.runs if e.judged else t.unjudged).append(e)
    for t in by.values():
        t.runs.sort(key=lambda e: (e.started, e.dir))
        t.left_out = max(0, len(t.runs) - MAX_RUNS)
        t.runs = t.runs[t.left_out:]
    return [by[name] for name in sorted(by)]


@dataclass
class Chart:
    key: str
    title: str
    metric: str
    values: list[float | None]
    limits: list[LimitLine]
    failed: list[bool]
    about: str


def _limit_of(b: BudgetPoint) -> float | None:
    spec = METRICS.get(b.metric)
    first = b.min if spec is not None and spec.bound == "min" else b.max
    return first if first is not None else (b.min if b.min is not None else b.max)


def _budget_names(runs: list[RunEntry]) -> list[str]:
    names: list[str] = []
    for r in runs:
        names += [b.name for b in r.budgets if b.name not in names]
    return names


def _matches(key: KeyNumber, b: BudgetPoint, run: RunEntry) -> bool:
    """A budget judges the key number itself: same metric and phase, on the headline op (or every op)."""
    return b.metric == key.metric and b.phase == key.phase and b.op in (run.headline_op, "all")


def _limits(name: str, runs: list[RunEntry]) -> LimitLine:
    rows = [next((b for b in r.budgets if b.name == name), None) for r in runs]
    latest = next(b for b in reversed(rows) if b is not None)
    return LimitLine(name, f"budget {name}: {limit_text(_limit_row(latest))}", limit_text(_limit_row(latest)),
                     [None if b is None else _limit_of(b) for b in rows])


def _limit_row(b: BudgetPoint) -> dict:
    return {"metric": b.metric, "limit": {"min": b.min, "max": b.max}}


def _failed(names: set[str], runs: list[RunEntry]) -> list[bool]:
    return [any(b.name in names and b.passed is False for b in r.budgets) for r in runs]


def charts(t: ScenarioTrend) -> tuple[list[Chart], int]:
    """The charts of one scenario: a key number's where any run knows it, then each budget no key number
    covers; and how many budget charts were left out (MAX_BUDGET_CHARTS)."""
    out: list[Chart] = []
    covered: set[str] = set()
    for key in KEY_NUMBERS:
        values = [r.numbers.get(key.key) for r in t.runs]
        if all(v is None for v in values):
            continue
        names = {b.name for r in t.runs for b in r.budgets if _matches(key, b, r)}
        covered |= names
        direction = "higher is better" if key.higher_is_better else "lower is better"
        out.append(Chart(key.key, key.label, key.metric, values,
                         [_limits(n, t.runs) for n in _budget_names(t.runs) if n in names],
                         _failed(names, t.runs), f"{meaning(key.metric)}; {direction}"))
    rest = [n for n in _budget_names(t.runs) if n not in covered]
    for name in rest[:MAX_BUDGET_CHARTS]:
        rows = [next((b for b in r.budgets if b.name == name), None) for r in t.runs]
        metric = next(b.metric for b in rows if b is not None)
        scope = next(f"{b.op} operations, phase {b.phase}" for b in rows if b is not None)
        out.append(Chart(f"budget:{name}", f"budget {name}", metric, [b.observed if b else None for b in rows],
                         [_limits(name, t.runs)], _failed({name}, t.runs),
                         f"{meaning(metric)} — observed for {scope}"))
    return out, max(0, len(rest) - MAX_BUDGET_CHARTS)


def _date(epoch: float) -> str:
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return "?"


def _mark(r: RunEntry, base: str) -> RunMark:
    return RunMark(r.dir, _date(r.started), f"{r.dir} ({when(r.started)}, {r.verdict.title})",
                   base + run_href(r.dir, r.has_report))


def _section(t: ScenarioTrend, base: str) -> str:
    head = (f'<section class="scenario" id="{esc(t.anchor)}" data-scenario="{esc(t.name)}">'
            f"<h2>{esc(t.name)}</h2>")
    parts = [head]
    if t.runs:
        first, last = t.runs[0], t.runs[-1]
        parts.append(f'<p class="muted">{len(t.runs)} judged run(s), {esc(when(first.started))} to '
                     f"{esc(when(last.started))}, oldest left"
                     + (f"; {t.left_out} older run(s) not drawn" if t.left_out else "") + ".</p>")
        strip = "".join(f'<li data-run="{esc(r.dir)}" data-verdict="{esc(r.verdict.verdict)}">'
                        f'<a href="{esc(base + run_href(r.dir, r.has_report))}" title="{esc(_mark(r, base).tooltip)}">'
                        f"{pill(r.verdict.title, r.verdict.css)}</a></li>" for r in t.runs)
        parts.append(f'<h3>Verdicts</h3><ol class="verdict-strip">{strip}</ol>')
        shown, left = charts(t)
        marks = [_mark(r, base) for r in t.runs]
        figures = []
        for c in shown:
            svg = line_chart(c.key, c.metric, marks, c.values, c.limits, c.failed, label=c.title)
            latest = next((v for v in reversed(c.values) if v is not None), None)
            figures.append(f'<figure class="trend" data-key="{esc(c.key)}"><h3>{esc(c.title)} '
                           f'<span class="muted">latest {esc(metric_value(c.metric, latest))}</span></h3>'
                           f'<p class="muted">{esc(c.about)}</p>{svg}</figure>')
        parts.append(f'<div class="trend-grid">{"".join(figures)}</div>')
        if left:
            parts.append(f'<p class="muted">… and {left} more budget chart(s) not drawn.</p>')
    else:
        parts.append('<p class="muted">No run of this scenario has a readable result.json yet.</p>')
    if t.unjudged:
        parts.append("<details><summary>Runs without a readable result (not drawn)</summary>"
                     + items_html(f"{r.dir}: {r.problem or 'result.json is missing: `drill report RUN_DIR` judges it'}"
                                  for r in t.unjudged) + "</details>")
    return "".join(parts) + "</section>"


def render_trend(trends: list[ScenarioTrend], where: Path, base: str = "") -> str:
    """The whole trend page; `base` leads from the page's folder to the runs folder ('' when it is there)."""
    runs = sum(len(t.runs) for t in trends)
    nav = "".join(f'<a href="#{esc(t.anchor)}">{esc(t.name)}</a>' for t in trends)
    body = [f"<style>{TREND_CSS}</style><main><h1>Drill trends</h1>",
            f'<p class="muted">{len(trends)} scenario(s), {runs} judged run(s) in <code>{esc(where)}</code>. '
            "Each chart is one key number of a scenario across its runs, oldest left (a point links to its "
            "report); dashed red lines are the limits of the budgets on that number, a red point a run whose "
            "budget on it failed, '?' a run that does not know the number. "
            f'<a href="{esc(base)}{files.INDEX}">All runs</a>.</p>',
            f"<nav>{nav}</nav>" if trends else "<p>No runs yet.</p>"]
    body += [_section(t, base) for t in trends]
    body.append("</main>")
    return page("drill trends", "".join(body))


def default_path(reports_dir: Path, scenario: str | None) -> Path:
    """trend.html in the runs folder; one scenario's own trend-<name>.html beside it."""
    if scenario is None:
        return Path(reports_dir) / files.TREND
    return Path(reports_dir) / files.trend_of(anchor(scenario).removeprefix("trend-"))


def write_trend(reports_dir: Path, scenario: str | None = None, out: Path | None = None,
                log: Callable[[str], None] | None = None, runs: list[RunEntry] | None = None) -> Path | None:
    """Write the trend page of `reports_dir` (default reports_dir/trend.html; only `scenario` when given) and
    return its path; None, after saying so through `log`, when a file is there that drills did not write.
    `runs` spares listing the folder again (the runs index has just done it)."""
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        raise ReportError(f"{reports_dir} is not a directory", hint="pass the reports directory, e.g. reports/")
    path = Path(out) if out is not None else default_path(reports_dir, scenario)
    if not may_overwrite(path):
        if log is not None:
            log(f"{path} was not written by drills: left as it is, the trend is not updated (move it away to get "
                "one)")
        return None
    entries = runs if runs is not None else list_runs(reports_dir)
    base = Path(os.path.relpath(reports_dir.resolve(), path.parent.resolve())).as_posix()
    base = "" if base == "." else quote(base) + "/"
    write_atomic(path, render_trend(group(entries, scenario), reports_dir, base))
    return path
