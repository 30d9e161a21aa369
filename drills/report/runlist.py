"""The runs in a reports folder, each with what the runs index and the trend show of it; and whether a page
drills writes into that folder may be (over)written.

Each result.json is read once (drills.report.resultfile, the tolerant reader) and only its headline, key
numbers (drills/report/keynumbers.py) and budget rows are kept, so a folder of many long runs stays cheap. A run
without a readable result.json is listed with what is wrong with it (`drill report RUN_DIR` judges it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drills.report.fmt import as_float
from drills.report.headline import Verdict, describe
from drills.report.htmlkit import GENERATOR
from drills.report.keynumbers import KEY_NUMBERS
from drills.report.quote import clip
from drills.report.resultfile import read_result_file
from drills.rundir import files
from drills.rundir.tolerant import Problems, read_json

_MARK_WITHIN = 4096   # bytes at the start of a page where drills' GENERATOR mark must be


@dataclass(frozen=True)
class BudgetPoint:
    """One budget row of one run, as a trend draws it."""

    name: str
    metric: str
    op: str
    phase: str
    observed: float | None
    min: float | None
    max: float | None
    passed: bool | None


@dataclass
class RunEntry:
    path: Path
    scenario: str
    started: float                      # epoch: result.json's, else meta.json's, else the folder's mtime
    verdict: Verdict
    run_id: str | None = None
    duration_s: float | None = None
    problem: str | None = None          # what is wrong with result.json (missing is not a problem here)
    judged: bool = False                # result.json was read
    headline_op: str | None = None      # the op the headline numbers are about
    numbers: dict[str, float | None] = field(default_factory=dict)   # key number -> value
    budgets: list[BudgetPoint] = field(default_factory=list)
    has_report: bool = False
    has_junit: bool = False

    @property
    def dir(self) -> str:
        return self.path.name


def _text(value: object) -> str | None:
    return clip(value) if isinstance(value, str) and value else None


def _budgets(doc: Mapping[str, Any]) -> list[BudgetPoint]:
    out = []
    for b in doc.get("budgets") or []:
        if not isinstance(b, Mapping) or not _text(b.get("name")) or not _text(b.get("metric")):
            continue
        found = b.get("limit")
        limit: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        passed = b.get("passed") if isinstance(b.get("passed"), bool) else None
        out.append(BudgetPoint(str(_text(b.get("name"))), str(_text(b.get("metric"))), _text(b.get("op")) or "",
                               _text(b.get("phase")) or "all", as_float(b.get("observed")), as_float(limit.get("min")),
                               as_float(limit.get("max")), passed))
    return out


def read_entry(d: Path) -> RunEntry:
    """One run directory as the index and the trend list it; never raises for what its files hold."""
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
    entry = RunEntry(path=d, scenario=clip(scenario) if isinstance(scenario, str) and scenario else d.name,
                     started=started, verdict=describe(r), run_id=_text(r["run_id"]) if r else _text(m.get("run_id")),
                     duration_s=r["duration_s"] if r else None, problem=None if found.missing else found.problem,
                     judged=r is not None, has_report=(d / files.REPORT).exists(),
                     has_junit=(d / files.JUNIT).exists())
    doc = found.document
    if isinstance(doc, dict):
        availability = doc.get("availability")
        op = availability.get("op") if isinstance(availability, Mapping) else None
        entry.headline_op = _text(op)
        entry.numbers = {k.key: k.value(doc) for k in KEY_NUMBERS}
        entry.budgets = _budgets(doc)
    return entry


def list_runs(reports_dir: Path) -> list[RunEntry]:
    """Every run directory directly in `reports_dir`, oldest first."""
    runs = [read_entry(d) for d in sorted(Path(reports_dir).iterdir()) if files.is_run_dir(d)]
    runs.sort(key=lambda e: (e.started or 0.0, e.dir))
    return runs


def may_overwrite(path: Path) -> bool:
    """No file yet, or one drills wrote (its GENERATOR mark near the top): only then may it be (over)written.
    The folder is the user's: anything else there is left alone."""
    if not path.exists() and not path.is_symlink():
        return True
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open("rb") as f:
            return GENERATOR.encode() in f.read(_MARK_WITHIN)
    except OSError:
        return False
