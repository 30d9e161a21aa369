"""The one tolerant reader of a run directory's small files (the histories are streamed: they can hold
millions of lines, and the checks and the report each keep only what they need of them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drills.rundir import files
from drills.rundir.tolerant import Problems, read_json, read_json_columns, read_jsonl

# final-state.json's sections of long columns (drills/checks/finalstate.py): read column by column, whole numbers
# compactly (read_json_columns())
FINAL_STATE_COLUMNS = ("orders", "tickets")


@dataclass
class RunFiles:
    """The parsed files of one run directory; an absent or damaged file is None or empty, and `problems`
    says which and why."""

    path: Path
    problems: Problems
    events: list[dict] = field(default_factory=list)
    stats: list[dict] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    result: dict | None = None
    final_state: dict | None = None
    backups: dict | None = None
    scenario_text: str | None = None
    scenario: dict | None = None
    history_paths: list[Path] = field(default_factory=list)


def _object(path: Path, problems: Problems, columns: tuple[str, ...] = ()) -> dict | None:
    data = read_json_columns(path, problems, columns) if columns else read_json(path, problems)
    if data is not None and not isinstance(data, dict):
        problems.unreadable(f"{path.name}: not a JSON object; ignored")
        return None
    return data


def read_files(run_dir: Path) -> RunFiles:
    """Read every small file that exists; never raises for damaged or missing content."""
    path = Path(run_dir)
    run = RunFiles(path=path, problems=Problems())
    p = run.problems
    if not path.is_dir():
        for name in files.EXPECTED:
            p.missing(name)
        p.unreadable(f"{path}: not a directory")
        return run
    run.events = read_jsonl(path / files.EVENTS, p)
    run.stats = read_jsonl(path / files.STATS, p)
    run.probes = read_jsonl(path / files.PROBES, p)
    run.meta = read_meta(path, p)
    run.result = _object(path / files.RESULT, p)
    run.final_state = _object(path / files.FINAL_STATE, p, FINAL_STATE_COLUMNS)
    if (path / files.BACKUPS).is_file():  # only stacks with backups write it: not missing otherwise
        run.backups = _object(path / files.BACKUPS, p)
    run.history_paths = files.history_paths(path)
    if not run.history_paths:
        p.missing(files.HISTORY_GLOB)
    _read_scenario(run)
    return run


def read_meta(run_dir: Path, problems: Problems) -> dict:
    """meta.json, or {} when it is absent or damaged (recorded in `problems`)."""
    return _object(Path(run_dir) / files.META, problems) or {}


def read_scenario_text(run_dir: Path, problems: Problems) -> str | None:
    """The scenario as it was run, as text (shown as it is even when it no longer parses)."""
    path = Path(run_dir) / files.SCENARIO
    if not path.is_file():
        problems.missing(files.SCENARIO)
        return None
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        problems.unreadable(f"{files.SCENARIO}: cannot be read ({exc.strerror or exc})")
        return None


def _read_scenario(run: RunFiles) -> None:
    run.scenario_text = read_scenario_text(run.path, run.problems)
    if run.scenario_text is None:
        return
    try:
        data: Any = yaml.safe_load(run.scenario_text)
    except yaml.YAMLError:
        run.problems.unreadable(f"{files.SCENARIO}: not valid YAML (shown as text only)")
        return
    if isinstance(data, dict):
        run.scenario = data
