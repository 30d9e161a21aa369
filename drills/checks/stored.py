"""A stored run's result, for whatever shows one (report.html, junit.xml, `drill compare`, `drill report`).

* result.json of the current format is read back through the model (result_model.read_result); whatever had
  to be repaired or left out is said in words.
* A format-1 result (written before the result model) is completed with what format 2 added, computed from the
  run directory by the same functions the checks use; its verdict, budgets and numbers stay as recorded.
* A run without a usable result.json (crashed before its checks, or the file is damaged) is judged now by the
  checks, by the scenario it recorded or, when that copy is unreadable, by the default phases and budgets.
* Should the checks themselves fail on the directory, the result is the one of a run with nothing to judge
  (verdict error), saying why: a reader never gets a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drills.checks import cluster
from drills.checks.result import (
    default_scenario,
    disaster_extras,
    fault_late_ms,
    generator_series,
    judge,
    judge_recorded,
    rerun_command,
)
from drills.checks.result_model import FORMAT, READABLE_FORMATS, Result, anomalies, read_result
from drills.checks.window import RunWindow
from drills.rundir import files
from drills.rundir.run import read_files
from drills.rundir.tolerant import Problems, read_json
from drills.scenario import ScenarioInvalid, load_scenario

Origin = Literal["recorded", "completed", "judged", "failed"]


@dataclass
class StoredResult:
    """The result to show, where it came from, and what a reader should know about that."""

    result: Result
    origin: Origin                  # recorded / completed (format 1) / judged now / failed (the checks broke)
    notes: list[str] = field(default_factory=list)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def complete_format_1(doc: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """A format-1 document with the parts format 2 added, from the run directory (the verdict is untouched)."""
    doc = dict(doc)
    run = read_files(run_dir)
    try:
        description = load_scenario(run_dir / files.SCENARIO).description
    except (ScenarioInvalid, OSError):
        description = ""
    doc.setdefault("description", description)
    doc.setdefault("rerun_command", rerun_command(run.meta))
    avail: dict = doc["availability"] if isinstance(doc.get("availability"), dict) else {}
    window: dict = avail["window"] if isinstance(avail.get("window"), dict) else {}
    t0, t_end = _number(window.get("load_started")), _number(window.get("load_stopped"))
    w = RunWindow(t0, t_end if t_end is not None else t0) if t0 is not None else None
    if w is not None:
        doc.setdefault("cluster", cluster.timeline(run.probes, w))
        if isinstance(doc.get("generator"), dict):
            doc["generator"] = {**doc["generator"], "series": generator_series(run.stats, w)}
    if isinstance(doc.get("audit"), dict):
        doc["audit"] = {**doc["audit"], "anomalies": anomalies(doc["audit"])}
    faults = []
    for f in doc.get("faults") or []:
        if isinstance(f, dict):
            injected, healed = _number(f.get("injected_s")), _number(f.get("healed_s"))
            f = {**f, "late_ms": fault_late_ms(injected, f.get("scheduled_s")),
                 "duration_s": None if injected is None or healed is None else round(healed - injected, 3)}
        faults.append(f)
    doc["faults"] = faults
    if isinstance(doc.get("disaster_recovery"), dict):
        doc["disaster_recovery"] = disaster_extras(dict(doc["disaster_recovery"]))
    return doc


def _judged(run_dir: Path, why: str) -> StoredResult:
    try:
        result = judge_recorded(run_dir)
        result["notes"] = [n for n in result["notes"] if not n.startswith(files.RESULT)]  # `why` says it
        return StoredResult(result, "judged", [why])
    except Exception as exc:  # noqa: BLE001 - a bug in the checks must not cost the reader the run
        failure = f"the checks failed on this run directory ({type(exc).__name__}: {exc}); please report it"
    scenario, _ = default_scenario(run_dir, "not needed")
    result = judge(run_dir / ".nothing-to-judge", scenario)   # a run with nothing to judge: everything unknown
    result["verdict"], result["verdict_reasons"] = "error", [failure]
    result["missing_files"], result["notes"] = [], []
    return StoredResult(result, "failed", [why, failure])


def load(run_dir: Path) -> StoredResult:
    """The result of a run directory (see the module docstring); never raises for what the files hold."""
    run_dir = Path(run_dir)
    problems = Problems()
    doc = read_json(run_dir / files.RESULT, problems)
    if doc is None:
        why = (f"{files.RESULT} is missing: the run did not reach its checks (crashed or interrupted)"
               if files.RESULT in problems.missing_files else "; ".join(problems.damaged))
        return _judged(run_dir, f"{why}. The checks judged the recorded files now.")
    if not isinstance(doc, dict):
        return _judged(run_dir, f"{files.RESULT} is not a JSON object. The checks judged the recorded files now.")
    version = doc.get("format")
    notes: list[str] = []
    origin: Origin = "recorded"
    if version == 1:
        doc = complete_format_1(doc, run_dir)
        origin = "completed"
        notes.append(f"{files.RESULT} was written by an older drills (format 1): the node roles, the generator's "
                     "per-second numbers and a few lengths were added from the recorded files; the verdict, "
                     "budgets and measurements are as recorded.")
    elif version not in READABLE_FORMATS:
        notes.append(f"{files.RESULT} has format {version!r}; this drills writes format {FORMAT} (a newer "
                     "drills?): read as far as it fits.")
    result, repairs = read_result(doc)
    if result is None:
        return _judged(run_dir, f"{files.RESULT} could not be read as a result ({repairs[-1]}). The checks judged "
                                "the recorded files now.")
    notes += [f"{files.RESULT}: {r}" for r in repairs]
    return StoredResult(result, origin, notes)
