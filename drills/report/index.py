"""reports/index.html: every run in a reports directory, newest first, with its verdict and links — to its
report, to the previous run of the same scenario, and to the scenario's trend (trend.html, rewritten with it).

Reads each result.json once (drills.report.runlist: its headline, key numbers and budgets, not the per-second
series), so it stays quick with many long runs. A run without result.json is listed without a verdict
(`drill report RUN_DIR` judges it), a corrupt one says what is wrong with it. The folder is the user's: an
index.html or trend.html that drills did not write (no GENERATOR mark) is never overwritten.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from drills.report.fmt import duration, when
from drills.report.htmlkit import esc, page, pill, table
from drills.report.render import ReportError, write_atomic
from drills.report.runlist import RunEntry, list_runs, may_overwrite
from drills.report.terminal import plain
from drills.report.trend import anchor, write_trend
from drills.rundir import files


def _warn(message: str) -> None:
    try:
        print(f"warning: {plain(message)}", file=sys.stderr)
    except OSError:   # no stderr to warn on: the index is skipped all the same
        pass


def _previous(runs: list[RunEntry]) -> dict[str, RunEntry]:
    """Each run's previous run of the same scenario (runs oldest first)."""
    last: dict[str, RunEntry] = {}
    out: dict[str, RunEntry] = {}
    for r in runs:
        if r.scenario in last:
            out[r.dir] = last[r.scenario]
        last[r.scenario] = r
    return out


def _href(r: RunEntry) -> str:
    return f"{quote(r.dir)}/" + (files.REPORT if r.has_report else "")


def write_index(reports_dir: Path, log: Callable[[str], None] | None = None) -> Path | None:
    """Write reports_dir/index.html (runs newest first) and the trend page beside it (drills.report.trend),
    and return the index's path; None, after a warning through `log` (default: stderr), when an index.html is
    there that drills did not write: it is left as it is (so is a trend.html drills did not write)."""
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        raise ReportError(f"{reports_dir} is not a directory", hint="pass the reports directory, e.g. reports/")
    path = reports_dir / files.INDEX
    if not may_overwrite(path):
        (log or _warn)(f"{path} was not written by drills: left as it is, the runs index is not updated "
                       "(move it away to get one)")
        return None
    runs = list_runs(reports_dir)
    trend = write_trend(reports_dir, log=log or _warn, runs=runs)
    previous = _previous(runs)
    rows, attrs = [], []
    for s in reversed(runs):
        v = s.verdict
        href = quote(s.dir)
        links = []
        if s.has_report:
            links.append(f'<a href="{href}/{files.REPORT}">report</a>')
        if s.has_junit:
            links.append(f'<a href="{href}/{files.JUNIT}">{files.JUNIT}</a>')
        links.append(f'<a href="{href}/">files</a>')
        before = previous.get(s.dir)
        if before is not None:
            links.append(f'<a href="{_href(before)}" data-previous="{esc(before.dir)}" '
                         f'title="{esc(before.dir)}">previous run</a>')
        if trend is not None:
            links.append(f'<a href="{files.TREND}#{esc(anchor(s.scenario))}" data-trend="{esc(s.scenario)}">'
                         "trend</a>")
        name = (f'<a href="{href}/{files.REPORT}"><b>{esc(s.scenario)}</b></a>' if s.has_report
                else f"<b>{esc(s.scenario)}</b>")
        if s.problem:
            name += f'<div class="muted" data-problem="result">{esc(s.problem)}</div>'
        rows.append([pill(v.title, v.css), name, esc(when(s.started)), esc(duration(s.duration_s)),
                     f"<code>{esc(s.dir)}</code>", " · ".join(links)])
        attrs.append(f'data-run="{esc(s.dir)}" data-verdict="{esc(v.verdict)}"')
    body = ["<main><h1>Drill runs</h1>",
            f"<p class='muted'>{len(runs)} run(s) in <code>{esc(reports_dir)}</code>, newest first. "
            "Re-render one with <code>drill report RUN_DIR</code>"
            + (f'; every scenario\'s key numbers over time: <a href="{files.TREND}">trends</a>' if trend else "")
            + ".</p>"]
    body.append(table(["verdict", "scenario", "started", "took", "directory", "links"], rows, "index", attrs)
                if runs else "<p>No runs yet.</p>")
    body.append("</main>")
    write_atomic(path, page("drill runs", "".join(body)))
    return path
