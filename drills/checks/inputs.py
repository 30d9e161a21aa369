"""What the checks read: the run directory's files (drills.rundir's one tolerant reader) plus the history,
parsed into columns and finished against the load window.

An absent file is recorded in `missing_files`, a skipped line in `notes`; neither raises, so a drill that
crashed half-way can still be judged (docs/run-directory.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drills.checks.damage import Issue, Tally
from drills.checks.finalstate import FinalState, order_keys
from drills.checks.history import History, load_history
from drills.checks.probes import conform_probe
from drills.checks.window import RunWindow, build_window, run_events
from drills.checks.worker_clock import history_shifts
from drills.rundir import files
from drills.rundir.codec import DECODE_ERRORS, loads
from drills.rundir.run import read_files
from drills.rundir.tolerant import Problems, read_jsonl
from drills.scenario.audit_section import AuditSection
from drills.scenario.model import Phases


@dataclass
class RunData:
    """The parsed files of one run directory."""

    path: Path
    events: list[dict]
    history: History | None          # None when there is no history file at all
    window: RunWindow
    stats: list[dict]
    probes: list[dict]
    meta: dict
    final_state: FinalState | None
    problems: Problems
    backups: dict | None = None      # backups.json (runs of a stack with backups; absent otherwise)
    alerts: list[dict] | None = None  # alerts.jsonl (runs with monitoring; None: no such file)
    alerts_damaged: int = 0          # its lines the tolerant reader had to skip


def read_run(run_dir: Path, declared: Phases | None = None, audit: AuditSection | None = None) -> RunData:
    """Parse everything the checks need; the history is finished against the load window, and keeps the writes
    of `audit` (None: the reference stack's)."""
    run = read_files(Path(run_dir))
    problems = run.problems
    if files.RESULT in problems.missing_files:  # the checks write it: not a problem of the run
        problems.missing_files.remove(files.RESULT)
    history: History | None = None
    if run.history_paths:
        history = load_history(run.history_paths, problems, audit, history_shifts(run.history_paths, run.events),
                               known=order_keys(run.final_state))
    events = run.events
    bounds: tuple[float | None, float | None] = (None, None)
    if history is not None and not (run_events(events, "load_started") and run_events(events, "load_stopped")):
        bounds = history.bounds()
    window = build_window(events, declared, problems, *bounds)
    if history is not None:
        history.finish(window.t0, window.t_end)
        if history.outside_window:
            problems.note(f"history: {history.outside_window} operation(s) invoked outside the load window are "
                          "left out of availability (still audited)")
    final_state = FinalState.from_json(run.final_state) if run.final_state is not None else None
    probes = conform_probes(run.path / files.PROBES, run.probes, problems)
    alerts, alerts_damaged = read_alerts(run.path, problems)
    return RunData(
        path=run.path, events=events, history=history, window=window, stats=run.stats, probes=probes,
        meta=run.meta, final_state=final_state, problems=problems, backups=run.backups, alerts=alerts,
        alerts_damaged=alerts_damaged,
    )


def read_alerts(run_dir: Path, problems: Problems) -> tuple[list[dict] | None, int]:
    """alerts.jsonl's objects and how many of its lines were skipped; None when the run has none (monitoring
    off: not a missing file)."""
    path = Path(run_dir) / files.ALERTS
    if not path.is_file():
        return None, 0
    lines = read_jsonl(path, problems)
    return lines, len(problems.bad_lines.get(files.ALERTS, [])) + (files.ALERTS in problems.truncated)


def conform_probes(path: Path, probes: list[dict], problems: Problems) -> list[dict]:
    """The probes read from `path` as the checks read them (probes.conform_probe()); what had to be repaired or
    skipped is noted with the file's line numbers."""
    kept: list[dict] = []
    damaged: list[tuple[int, list[Issue]]] = []
    for k, p in enumerate(probes):
        fixed, issues = conform_probe(p)
        if issues:
            damaged.append((k, issues))
        if fixed is not None:
            kept.append(fixed)
    if damaged:
        numbers = object_lines(path)
        tally = Tally()
        for k, issues in damaged:
            tally.add(path, numbers[k] if k < len(numbers) else 0, issues)
        problems.notes.extend(tally.notes())
    return kept


def object_lines(path: Path) -> list[int]:
    """The line number of each JSON object line of `path`, in order: the k-th object a tolerant reader
    (drills.rundir.tolerant.iter_jsonl) yields is on line object_lines(path)[k]. Read again only to name the
    lines of a damaged file."""
    numbers: list[int] = []
    try:
        with path.open("rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    obj = loads(raw)
                except DECODE_ERRORS:
                    continue
                if isinstance(obj, dict):
                    numbers.append(lineno)
    except OSError:
        pass
    return numbers
