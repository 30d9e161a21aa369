"""What the checks read: the run directory's files (drills.rundir's one tolerant reader) plus the history,
parsed into columns and finished against the load window.

An absent file is recorded in `missing_files`, a skipped line in `notes`; neither raises, so a drill that
crashed half-way can still be judged (docs/run-directory.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drills.checks.finalstate import FinalState
from drills.checks.history import History, load_history
from drills.checks.window import RunWindow, build_window, run_events
from drills.rundir import files
from drills.rundir.run import read_files
from drills.rundir.tolerant import Problems
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


def read_run(run_dir: Path, declared: Phases | None = None) -> RunData:
    """Parse everything the checks need; the history is finished against the load window."""
    run = read_files(Path(run_dir))
    problems = run.problems
    if files.RESULT in problems.missing_files:  # the checks write it: not a problem of the run
        problems.missing_files.remove(files.RESULT)
    history: History | None = None
    if run.history_paths:
        history = load_history(run.history_paths, problems)
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
    return RunData(
        path=run.path, events=events, history=history, window=window, stats=run.stats, probes=run.probes,
        meta=run.meta, final_state=final_state, problems=problems, backups=run.backups,
    )
