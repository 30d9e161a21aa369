"""reports/index.html: every run in a reports directory, newest first, with its verdict and links.

Reads only the small files (result.json, meta.json, scenario.yaml, events.jsonl) so it stays quick with
many long runs.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import yaml

from drills.report.fmt import as_float, duration, epoch, when
from drills.report.headline import judge
from drills.report.htmlkit import esc, page, pill, table
from drills.report.render import ReportError, write_atomic
from drills.rundir import files
from drills.rundir.tolerant import Problems, read_json, read_jsonl


def _object(path: Path) -> dict:
    data = read_json(path, Problems())
    return data if isinstance(data, dict) else {}


def _summary(d: Path) -> dict:
    """Only the small files (result.json, meta.json, scenario.yaml, events.jsonl): quick with many runs."""
    r, m = _object(d / files.RESULT), _object(d / files.META)
    scenario = r.get("scenario") or m.get("scenario") or m.get("scenario_name")
    if not scenario and (d / files.SCENARIO).is_file():
        try:
            data = yaml.safe_load((d / files.SCENARIO).read_text(errors="replace"))
            scenario = data.get("name") if isinstance(data, dict) else None
        except (OSError, yaml.YAMLError):
            scenario = None
    started = epoch(r.get("started")) or epoch(m.get("started"))
    if started is None and (d / files.EVENTS).is_file():
        events = read_jsonl(d / files.EVENTS, Problems())
        started = next((as_float(e.get("t")) for e in events if e.get("kind") == "run"), None)
    if started is None:
        try:
            started = d.stat().st_mtime
        except OSError:
            started = 0.0
    v = judge(r or None)
    return {"dir": d.name, "scenario": scenario or d.name, "verdict": v, "started": started,
            "duration_s": r.get("duration_s"), "has_report": (d / files.REPORT).exists(),
            "has_junit": (d / files.JUNIT).exists()}


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
