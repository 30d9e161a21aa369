"""One key number across runs as a small inline SVG line chart, with the budget limits as dashed lines.

Written by hand rather than with matplotlib (drills/report/charts.py): a trend page has a chart per key number
per scenario and is rewritten with the runs index after every drill, so it must cost milliseconds. Runs are
evenly spaced, oldest left (a game day's cadence is irregular; the labels give the dates). Each chart has one
`<path class="series" data-metric=KEY>`, a `<circle class="point" data-run=DIR>` per known value (a link to the
run's report, a tooltip with run, date and value) and a `<path class="limit" data-budget=NAME>` per budget, so
readers, scripts and tests can find them. Every text is escaped; nothing is fetched.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from drills.report.fmt import metric_value
from drills.report.quote import clip
from drills.rundir import files

WIDTH, HEIGHT = 760, 170
LEFT, RIGHT, TOP, BOTTOM = 70, 110, 12, 34
MAX_LABELS = 10
SERIES_COLOUR, LIMIT_COLOUR, FAILED_COLOUR = "#0969da", "#cf222e", "#cf222e"
Scale = Callable[[float], float]


@dataclass(frozen=True)
class RunMark:
    """A run on the x axis: its folder (for the link and data-run), its date label and its tooltip text."""

    dir: str
    label: str
    tooltip: str
    href: str | None


@dataclass(frozen=True)
class LimitLine:
    """A budget's limit per run (None where that run had no such budget): drawn as steps, so a changed limit
    shows when it changed."""

    name: str
    text: str                      # the tooltip, e.g. 'budget failover_s[purchase,all]: ≤ 20 s'
    short: str                     # the label at its right end, e.g. '≤ 20 s'
    values: Sequence[float | None]


def _e(text: object) -> str:
    return html.escape(clip(str(text)), quote=True)


def _nice_step(span: float) -> float:
    raw = span / 4 if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _range(values: list[float], ratio: bool) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.1 if hi > lo else (abs(hi) * 0.1 or (0.01 if ratio else 1.0))
    low, high = lo - pad, hi + pad
    if lo >= 0 and (low < 0 or lo <= 0.25 * hi):
        low = 0.0          # non-negative numbers near zero: show zero
    if ratio:
        high = min(high, 1.0) if hi <= 1.0 else high
    return low, high if high > low else low + 1.0


def line_chart(key: str, metric: str, runs: Sequence[RunMark], values: Sequence[float | None],
               limits: Sequence[LimitLine] = (), failed: Sequence[bool] = (), label: str = "") -> str:
    """The SVG of one key number over `runs` (values[i] is runs[i]'s; None: unknown there). `failed[i]` marks
    a run whose budget on this number failed (a red point)."""
    n = max(len(runs), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    known = [v for v in values if v is not None]
    bounds = known + [v for line in limits for v in line.values if v is not None]
    ratio = metric.endswith("_ratio")
    low, high = _range(bounds or [0.0], ratio)

    def x(i: float) -> float:
        return LEFT + (i + 0.5) * plot_w / n

    def y(v: float) -> float:
        return TOP + plot_h - (v - low) / (high - low) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" class="chart trend" '
           f'data-chart="{_e(key)}" role="img" aria-label="{_e(label or key)}">']
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#d0d7de"/>')
    step = _nice_step(high - low)
    tick = math.ceil(low / step) * step
    while tick <= high + 1e-12:
        ty = y(tick)
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#eaeef2"/>'
                   f'<text x="{LEFT - 6}" y="{ty + 3:.1f}" text-anchor="end" class="tick">'
                   f"{_e(metric_value(metric, round(tick, 9)))}</text>")
        tick += step
    every = max(1, math.ceil(len(runs) / MAX_LABELS))
    for i, run in enumerate(runs):
        if i % every == 0:
            out.append(f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle" class="tick">'
                       f"{_e(run.label)}</text>")
    for line in limits:
        out.append(_limit_path(line, x, y, plot_w / n))
    out.append(_series_path(key, values, x, y))
    for i, (run, v) in enumerate(zip(runs, values, strict=False)):
        if v is None:
            out.append(f'<text x="{x(i):.1f}" y="{TOP + plot_h - 3}" text-anchor="middle" class="unknown" '
                       f'data-run="{_e(run.dir)}"><title>{_e(run.tooltip)}: unknown</title>?</text>')
            continue
        colour = FAILED_COLOUR if i < len(failed) and failed[i] else SERIES_COLOUR
        point = (f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}" '
                 f'data-run="{_e(run.dir)}" data-value="{v:g}"><title>{_e(run.tooltip)}: '
                 f"{_e(metric_value(metric, v))}</title></circle>")
        out.append(f'<a href="{_e(run.href)}">{point}</a>' if run.href else point)
    out.append("</svg>")
    return "".join(out)


def _series_path(key: str, values: Sequence[float | None], x: Scale, y: Scale) -> str:
    d, pen_down = [], False
    for i, v in enumerate(values):
        if v is None:
            pen_down = False
            continue
        d.append(f"{'L' if pen_down else 'M'}{x(i):.1f} {y(v):.1f}")
        pen_down = True
    return (f'<path class="series" data-metric="{_e(key)}" d="{" ".join(d) or "M0 0"}" fill="none" '
            f'stroke="{SERIES_COLOUR}" stroke-width="1.6"/>')


def _limit_path(line: LimitLine, x: Scale, y: Scale, band: float) -> str:
    d, last = [], None
    for i, v in enumerate(line.values):
        if v is None:
            last = None
            continue
        left, right = x(i) - band / 2, x(i) + band / 2
        d.append(f"{'L' if last is not None else 'M'}{left:.1f} {y(v):.1f} L{right:.1f} {y(v):.1f}")
        last = v
    known = [(i, v) for i, v in enumerate(line.values) if v is not None]
    tag = ""
    if known:
        i, v = known[-1]
        tag = (f'<text x="{x(i) + band / 2 + 4:.1f}" y="{y(v) + 3:.1f}" class="limit-label" fill="{LIMIT_COLOUR}">'
               f"{_e(line.short)}</text>")
    return (f'<g class="budget-limit" data-budget="{_e(line.name)}"><title>{_e(line.text)}</title>'
            f'<path class="limit" data-budget="{_e(line.name)}" d="{" ".join(d) or "M0 0"}" fill="none" '
            f'stroke="{LIMIT_COLOUR}" stroke-width="1.2" stroke-dasharray="5 3"/>{tag}</g>')


def run_href(run_dir: str, has_report: bool) -> str:
    """The link from a page in the runs folder to a run: its report, else its folder."""
    return f"{quote(run_dir)}/" + (files.REPORT if has_report else "")
