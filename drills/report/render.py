"""`drill report RUN_DIR`: (re-)render report.html and junit.xml from the files on disk.

Works for a crashed half-way run too; a bug in one rendering degrades to a plain page, never a traceback.
"""

from __future__ import annotations

import os
import secrets
import traceback
from collections.abc import Callable
from pathlib import Path

from drills.errors import InfrastructureError, UsageError
from drills.report.htmlkit import esc, page
from drills.report.junit import render_junit
from drills.report.page import render_html
from drills.report.resultfile import read_result_file
from drills.report.view import ReportView, build_view
from drills.rundir import files


class ReportError(InfrastructureError):
    """The report could not be written (the folder is not writable)."""


class NotARunDir(UsageError):
    """A path given as a run directory is none: nothing is read from it and nothing written into it."""


RUN_DIR_HINT = "pass a directory written by `drill run`, e.g. reports/<timestamp>-<scenario>/"


def require_run_dir(path: Path) -> Path:
    """`path` when it is a run directory (it has one of files.MARKERS), else NotARunDir saying what it is."""
    path = Path(path)
    if not path.exists():
        raise NotARunDir(f"{path}: no such directory", hint=RUN_DIR_HINT)
    if not path.is_dir():
        raise NotARunDir(f"{path} is a file, not a run directory", hint=RUN_DIR_HINT)
    if not files.is_run_dir(path):
        raise NotARunDir(f"{path} is not a run directory: it has none of {', '.join(files.MARKERS)}",
                         hint=RUN_DIR_HINT)
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write via a new temporary file and rename, so a reader never sees half a report; the temporary file is
    created, never opened through a link someone left in the folder, and the rename replaces a link at
    `path` rather than writing where it points."""
    tmp: Path | None = None
    try:
        name = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # O_EXCL: never through a link
        tmp = name
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as f:   # a lone surrogate from a file: '?'
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
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


def _deeper(note: str) -> str:
    """The checks' words for a result.json whose headline reads but whose body does not, as 'corrupt: …'."""
    inner = note.split(". The checks judged")[0].removeprefix(f"{files.RESULT} could not be read as a result")
    inner = inner.removeprefix(" (").removesuffix(")")
    return f"{files.RESULT} is corrupt: {inner or 'not a result'}"


def render_run(run_dir: Path, log: Callable[[str], None] | None = None) -> list[Path]:
    """Render report.html and junit.xml into the run directory; returns the files written. A path that is not
    a run directory is refused (NotARunDir, a usage error) before anything is written. `log` hears why a
    result.json that is there could not be used (corrupt, never "missing")."""
    run_dir = require_run_dir(run_dir)
    view = build_view(run_dir)
    if log is not None and view.origin in ("judged", "failed") and (run_dir / files.RESULT).exists():
        why = read_result_file(run_dir).problem or _deeper(view.notes[0] if view.notes else "")
        log(f"{why}; it is left as it is, and the report shows the recorded files judged again")
    html_path, junit_path = run_dir / files.REPORT, run_dir / files.JUNIT
    write_atomic(html_path, _safe_html(view))
    write_atomic(junit_path, render_junit(view))
    return [html_path, junit_path]
