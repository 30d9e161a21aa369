"""Read a run directory tolerantly: every file may be absent or end in a truncated line.

An absent file is recorded in `missing_files`, a skipped line in `notes`; neither raises, so a drill that
crashed half-way can still be judged (docs/run-directory.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drills.checks.finalstate import FILE_NAME, FinalState
from drills.checks.history import History, history_files, load_history
from drills.checks.window import RunWindow, build_window, run_events
from drills.jsonl import Problems, read_json, read_jsonl
from drills.scenario.model import Phases

BACKUPS_FILE = "backups.json"


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
    run_dir = Path(run_dir)
    problems = Problems()
    events = read_jsonl(run_dir / "events.jsonl", problems)
    paths = history_files(run_dir)
    history: History | None = None
    if paths:
        history = load_history(paths, problems)
    else:
        problems.missing("history.jsonl")
    bounds: tuple[float | None, float | None] = (None, None)
    if history is not None and not (run_events(events, "load_started") and run_events(events, "load_stopped")):
        bounds = history.bounds()
    window = build_window(events, declared, problems, *bounds)
    if history is not None:
        history.finish(window.t0, window.t_end)
        if history.outside_window:
            problems.note(f"history: {history.outside_window} operation(s) invoked outside the load window are "
                          "left out of availability (still audited)")
    meta = read_json(run_dir / "meta.json", problems)
    doc = read_json(run_dir / FILE_NAME, problems)
    final_state = FinalState.from_json(doc) if isinstance(doc, dict) else None
    backups = read_json(run_dir / BACKUPS_FILE, problems) if (run_dir / BACKUPS_FILE).is_file() else None
    return RunData(
        path=run_dir, events=events, history=history, window=window,
        stats=read_jsonl(run_dir / "stats.jsonl", problems),
        probes=read_jsonl(run_dir / "probes.jsonl", problems),
        meta=meta if isinstance(meta, dict) else {},
        final_state=final_state, problems=problems, backups=backups if isinstance(backups, dict) else None,
    )
