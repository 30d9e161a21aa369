"""What a report reads of a run directory, through drills.rundir's one tolerant reader: a run may have
crashed half-way, so the report shows what could be read and a plain-language note of what could not
(missing file, truncated last line, bad line) instead of raising."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drills.rundir import files
from drills.rundir.run import read_files
from drills.rundir.tolerant import Problems, read_jsonl

# What the report needs from each history line; the rest is dropped so a long run's history stays small in memory.
HISTORY_KEYS = ("op", "outcome", "invoke", "complete", "status", "error", "worker")


@dataclass
class RunDir:
    """Everything a report reads from one run directory; absent files are None or empty lists."""

    path: Path
    result: dict | None = None
    meta: dict | None = None
    final_state: dict | None = None
    scenario_text: str | None = None
    scenario: dict | None = None
    events: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    stats: list[dict] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)    # expected files that are not there
    problems: list[str] = field(default_factory=list)   # files that are there but damaged


def load_run(path: Path) -> RunDir:
    """Read every file of the run directory that exists; never raises for damaged or missing content."""
    found = read_files(Path(path))
    p = found.problems
    history: list[dict] = []
    for hp in found.history_paths:
        history.extend(read_jsonl(hp, p, HISTORY_KEYS))
    notes = list(p.damaged)
    for name in (files.EVENTS, files.STATS, files.PROBES):
        notes.extend(p.file_notes(found.path / name))
    for hp in found.history_paths:
        notes.extend(p.file_notes(hp))
    return RunDir(path=found.path, result=found.result, meta=found.meta or None, final_state=found.final_state,
                  scenario_text=found.scenario_text, scenario=found.scenario, events=found.events,
                  history=history, stats=found.stats, probes=found.probes,
                  missing=[m for m in p.missing_files if m != files.BACKUPS], problems=notes)


def read_lines(path: Path, keys: tuple[str, ...] | None = None) -> tuple[list[dict], list[str]]:
    """Rows of one JSON-lines file (only `keys` of each, when given) and the report's notes on it."""
    problems = Problems()
    rows = read_jsonl(Path(path), problems, keys)
    return rows, problems.damaged + problems.file_notes(Path(path))
