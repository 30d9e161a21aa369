"""Constructed series of runs for the trend, gate and index tests: copies of the judged `pass` fixture run
(tests/unit/fixtures/runs/pass) whose result.json gets the numbers a test plants, one day apart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"
DAY = 86400.0


def plant(doc: dict, dotted: str, value: Any) -> None:
    """Set `a.b.c` in a result document (budgets by name: `budget:NAME.observed`)."""
    if dotted.startswith("budget:"):
        name, _, rest = dotted.removeprefix("budget:").partition(".")
        row = next(b for b in doc["budgets"] if b["name"] == name)
        plant(row, rest, value)
        return
    *parents, last = dotted.split(".")
    node = doc
    for part in parents:
        node = node[part]
    node[last] = value


def make_run(dest: Path, overrides: dict[str, Any], day: int = 0, kind: str = "pass") -> Path:
    """A copy of fixture run `kind` at `dest`, started `day` days after it, with `overrides` planted."""
    shutil.copytree(FIXTURES / kind, dest)
    path = dest / "result.json"
    doc = json.loads(path.read_text())
    doc["started"] = doc["started"] + day * DAY
    doc["finished"] = (doc["finished"] or doc["started"]) + day * DAY
    doc["run_id"] = f"{doc['scenario']}-{dest.name}"
    for dotted, value in overrides.items():
        plant(doc, dotted, value)
    path.write_text(json.dumps(doc, indent=1))
    return dest


def make_series(folder: Path, runs: list[dict[str, Any]], prefix: str = "run") -> list[Path]:
    """One run per dict of overrides, named <prefix>-0, <prefix>-1, ..., a day apart, oldest first."""
    folder.mkdir(parents=True, exist_ok=True)
    return [make_run(folder / f"{prefix}-{i}", o, day=i) for i, o in enumerate(runs)]
