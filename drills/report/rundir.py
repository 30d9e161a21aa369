"""Reading a run directory the way a report must: tolerant of anything missing or cut short.

A run may have crashed half-way, so every reader returns what it could read and a plain-language note of
what it could not (missing file, truncated last line, bad line) instead of raising.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drills.jsonl import Problems, iter_jsonl

# What the report needs from each history line; the rest is dropped so a long run's history stays small in memory.
HISTORY_KEYS = ("op", "outcome", "invoke", "complete", "status", "error", "worker")
# The files a complete run directory has (docs/run-directory.md), in the order a reader cares about them.
EXPECTED_FILES = ("result.json", "meta.json", "scenario.yaml", "events.jsonl", "history*.jsonl", "stats.jsonl",
                  "probes.jsonl", "final-state.json")


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


def read_jsonl(path: Path, keys: tuple[str, ...] | None = None) -> tuple[list[dict], list[str]]:
    """Rows of a JSON-lines file (only `keys` of each, when given) and notes on skipped lines; a truncated
    last line is expected after a crash (drills/jsonl.py reads)."""
    problems = Problems()
    try:
        rows = [{k: row.get(k) for k in keys} if keys else row for row in iter_jsonl(path, problems)]
    except OSError as exc:
        return [], [f"{path.name}: cannot be read ({exc.strerror or exc})"]
    notes = []
    last = problems.truncated.get(path.name)
    bad = problems.bad_lines.get(path.name, [])
    if last is None and bad and _is_last_line(path, bad[-1]):
        last, bad = bad[-1], bad[:-1]  # garbage as the very last line: what a crash leaves, too
    if last is not None:
        notes.append(f"{path.name}: last line truncated (line {last}, skipped)")
    if bad:
        shown = ", ".join(str(n) for n in bad[:5]) + (" …" if len(bad) > 5 else "")
        notes.append(f"{path.name}: {len(bad)} unreadable line(s) skipped (line {shown})")
    return rows, notes


def _is_last_line(path: Path, lineno: int) -> bool:
    with path.open("rb") as f:
        return all(not raw.strip() for raw in itertools.islice(f, lineno, None))


def read_json(path: Path) -> tuple[dict | None, str | None]:
    """A JSON object file, or None and why not."""
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return None, f"{path.name}: cannot be read ({exc.strerror or exc})"
    except json.JSONDecodeError as exc:
        return None, f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno}); ignored"
    except ValueError as exc:  # well-formed but not loadable, e.g. an integer beyond Python's digit limit
        return None, f"{path.name}: not valid JSON ({exc}); ignored"
    if not isinstance(data, dict):
        return None, f"{path.name}: not a JSON object; ignored"
    return data, None


def load_run(path: Path) -> RunDir:
    """Read every file of the run directory that exists; never raises for damaged or missing content."""
    run = RunDir(path=Path(path))
    if not run.path.is_dir():
        run.missing.extend(EXPECTED_FILES)
        run.problems.append(f"{run.path}: not a directory")
        return run
    for name, attr in (("result.json", "result"), ("meta.json", "meta"), ("final-state.json", "final_state")):
        p = run.path / name
        if not p.exists():
            run.missing.append(name)
            continue
        data, note = read_json(p)
        setattr(run, attr, data)
        if note:
            run.problems.append(note)
    _load_scenario(run)
    for name, attr in (("events.jsonl", "events"), ("stats.jsonl", "stats"), ("probes.jsonl", "probes")):
        p = run.path / name
        if not p.exists():
            run.missing.append(name)
            continue
        rows, notes = read_jsonl(p)
        setattr(run, attr, rows)
        run.problems.extend(notes)
    history_files = sorted(run.path.glob("history*.jsonl"))
    if not history_files:
        run.missing.append("history*.jsonl")
    for p in history_files:
        rows, notes = read_jsonl(p, HISTORY_KEYS)
        run.history.extend(rows)
        run.problems.extend(notes)
    return run


def _load_scenario(run: RunDir) -> None:
    p = run.path / "scenario.yaml"
    if not p.exists():
        run.missing.append("scenario.yaml")
        return
    try:
        run.scenario_text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        run.problems.append(f"scenario.yaml: cannot be read ({exc.strerror or exc})")
        return
    try:
        data: Any = yaml.safe_load(run.scenario_text)
    except yaml.YAMLError:
        run.problems.append("scenario.yaml: not valid YAML (shown as text only)")
        return
    if isinstance(data, dict):
        run.scenario = data
