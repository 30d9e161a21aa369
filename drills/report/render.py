"""`drill report RUN_DIR`: (re-)render report.html and junit.xml from the files on disk.

Works for a crashed half-way run too; a bug in one rendering degrades to a plain page, never a traceback.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

from drills.errors import InfrastructureError
from drills.report.htmlkit import esc, page
from drills.report.junit import render_junit
from drills.report.page import render_html
from drills.report.view import ReportView, build_view
from drills.rundir import files


class ReportError(InfrastructureError):
    """The report could not be written (not a run directory, or not writable)."""


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}",
                          hint="check that the run directory is writable") from None


def _safe_html(view: ReportView) -> str:
    try:
        return render_html(view)
    except Exception:  # noqa: BLE001 - a rendering bug must still leave a readable page behind
        detail = traceback.format_exc(limit=3)
        return page(f"report of {view.path.name}",
                    f"<main><h1>The report could not be rendered in full</h1><p>Verdict: "
                    f"<b>{esc(view.verdict.title)}</b>. The run's files are intact; please report this "
                    f"rendering problem.</p><pre>{esc(detail)}</pre></main>")


def render_run(run_dir: Path) -> list[Path]:
    """Render report.html and junit.xml into the run directory; returns the files written."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir} is not a run directory",
                          hint="pass a directory written by `drill run`, e.g. reports/<timestamp>-<scenario>/")
    view = build_view(run_dir)
    html_path, junit_path = run_dir / files.REPORT, run_dir / files.JUNIT
    write_atomic(html_path, _safe_html(view))
    write_atomic(junit_path, render_junit(view))
    return [html_path, junit_path]
