"""What a report reads of a run directory besides its result: meta.json (shown in the environment section) and
scenario.yaml's text (shown as it is), through drills.rundir's readers: absent or damaged is empty."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drills.rundir.run import read_meta, read_scenario_text
from drills.rundir.tolerant import Problems


@dataclass
class ShownFiles:
    meta: dict = field(default_factory=dict)
    scenario_text: str | None = None


def read_shown_files(run_dir: Path) -> ShownFiles:
    """meta.json and scenario.yaml's text; never raises (a missing file is already in the result's notes)."""
    problems = Problems()
    return ShownFiles(meta=read_meta(run_dir, problems), scenario_text=read_scenario_text(run_dir, problems))
