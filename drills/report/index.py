"""reports/index.html: every run in a reports directory, newest first, with its verdict and links.

Reads only result.json's headline (drills.checks.result_model.ResultHeadline) and meta.json, so it stays quick
with many long runs. A run without result.json is listed without a verdict (`drill report RUN_DIR` judges it).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from drills.checks.result_model import read_headline
from drills.report.fmt import as_float, duration, when
from drills.report.headline import describe
from drills.report.htmlkit import esc, page, pill, table
from drills.report.render import ReportError, write_atomic
from drills.rundir import files
from drills.rundir.tolerant import Problems, read_json


def _summary(d: Path) -> dict:
    """The headline of result.json, else what meta.json (written when a run starts) says."""
    r = read_headline(read_json(d / files.RESULT, Problems()))
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
            "has_report": (d / files.REPORT).exists(), "has_junit": (d / files.JUNIT).exists()}


def write_index(reports_dir: Path) -> Path:
    """Write reports_dir/index.html (runs newest first) and return its path."""
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        raise ReportError(f"{reports_dir} is not a directory", hint="pass the reports directory, e.g. reports/")
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
        rows.append([pill(v.title, v.css), name, esc(when(s["started"])), esc(duration(s["duration_s"])),
                     f"<code>{esc(s['dir'])}</code>", " · ".join(links)])
        attrs.append(f'data-run="{esc(s["dir"])}" data-verdict="{esc(v.verdict)}"')
    body = ["<main><h1>Drill runs</h1>",
            f"<p class='muted'>{len(runs)} run(s) in <code>{esc(reports_dir)}</code>, newest first. "
            "Re-render one with <code>drill report RUN_DIR</code>.</p>"]
    body.append(table(["verdict", "scenario", "started", "took", "directory", "links"], rows, "index", attrs)
                if runs else "<p>No runs yet.</p>")
    body.append("</main>")
    path = reports_dir / files.INDEX
    write_atomic(path, page("drill runs", "".join(body)))
    return path
