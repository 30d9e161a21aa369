"""reports/index.html: every run in a reports directory, newest first, with its verdict and links.

Reads only result.json's headline (drills.checks.result_model.ResultHeadline) and meta.json, so it stays quick
with many long runs. A run without result.json is listed without a verdict (`drill report RUN_DIR` judges it),
a corrupt one says what is wrong with it. The folder is the user's: an index.html that drills did not write
(no GENERATOR mark) is never overwritten.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from drills.report.fmt import as_float, duration, when
from drills.report.headline import describe
from drills.report.htmlkit import GENERATOR, esc, page, pill, table
from drills.report.render import ReportError, write_atomic
from drills.report.resultfile import read_result_file
from drills.report.terminal import plain
from drills.rundir import files
from drills.rundir.tolerant import Problems, read_json

_MARK_WITHIN = 4096   # bytes at the start of an index.html where drills' GENERATOR mark must be


def _summary(d: Path) -> dict:
    """The headline of result.json, else what meta.json (written when a run starts) says."""
    found = read_result_file(d)
    r = found.headline
    meta = read_json(d / files.META, Problems())
    m = meta if isinstance(meta, dict) else {}
    scenario = r["scenario"] if r else m.get("scenario")
    started = (r["started"] if r else None) or as_float(m.get("started_t"))
    if started is None:
        try:
            started = d.stat().st_mtime
        except OSError:
            started = 0.0
    return {"dir": d.name, "scenario": scenario if isinstance(scenario, str) and scenario else d.name,
            "verdict": describe(r), "started": started, "duration_s": r["duration_s"] if r else None,
            "problem": None if found.missing else found.problem,
            "has_report": (d / files.REPORT).exists(), "has_junit": (d / files.JUNIT).exists()}


def _ours(path: Path) -> bool:
    """No index yet, or one drills wrote (its GENERATOR mark near the top): only then may it be (over)written."""
    if not path.exists() and not path.is_symlink():
        return True
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open("rb") as f:
            return GENERATOR.encode() in f.read(_MARK_WITHIN)
    except OSError:
        return False


def _warn(message: str) -> None:
    try:
        print(f"warning: {plain(message)}", file=sys.stderr)
    except OSError:   # no stderr to warn on: the index is skipped all the same
        pass


def write_index(reports_dir: Path, log: Callable[[str], None] | None = None) -> Path | None:
    """Write reports_dir/index.html (runs newest first) and return its path; None, after a warning through
    `log` (default: stderr), when an index.html is there that drills did not write: it is left as it is."""
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        raise ReportError(f"{reports_dir} is not a directory", hint="pass the reports directory, e.g. reports/")
    path = reports_dir / files.INDEX
    if not _ours(path):
        (log or _warn)(f"{path} was not written by drills: left as it is, the runs index is not updated "
                       "(move it away to get one)")
        return None
    runs = [_summary(d) for d in sorted(reports_dir.iterdir()) if files.is_run_dir(d)]
    runs.sort(key=lambda s: s["started"] or 0.0, reverse=True)
    rows, attrs = [], []
    for s in runs:
        v = s["verdict"]
        href = quote(s["dir"])
        links = []
        if s["has_report"]:
            links.append(f'<a href="{href}/{files.REPORT}">report</a>')
        if s["has_junit"]:
            links.append(f'<a href="{href}/{files.JUNIT}">{files.JUNIT}</a>')
        links.append(f'<a href="{href}/">files</a>')
        name = (f'<a href="{href}/{files.REPORT}"><b>{esc(s["scenario"])}</b></a>' if s["has_report"]
                else f"<b>{esc(s['scenario'])}</b>")
        if s["problem"]:
            name += f'<div class="muted" data-problem="result">{esc(s["problem"])}</div>'
        rows.append([pill(v.title, v.css), name, esc(when(s["started"])), esc(duration(s["duration_s"])),
                     f"<code>{esc(s['dir'])}</code>", " · ".join(links)])
        attrs.append(f'data-run="{esc(s["dir"])}" data-verdict="{esc(v.verdict)}"')
    body = ["<main><h1>Drill runs</h1>",
            f"<p class='muted'>{len(runs)} run(s) in <code>{esc(reports_dir)}</code>, newest first. "
            "Re-render one with <code>drill report RUN_DIR</code>.</p>"]
    body.append(table(["verdict", "scenario", "started", "took", "directory", "links"], rows, "index", attrs)
                if runs else "<p>No runs yet.</p>")
    body.append("</main>")
    write_atomic(path, page("drill runs", "".join(body)))
    return path
