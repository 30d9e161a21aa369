"""What a report reads of a run directory besides its result: meta.json (shown in the environment section) and
scenario.yaml's text (shown as it is). Both through drills.rundir's tolerant reader: absent or damaged is empty."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drills.rundir import files
from drills.rundir.tolerant import Problems, read_json


@dataclass
class RunFiles:
    meta: dict = field(default_factory=dict)
    scenario_text: str | None = None


def read_shown_files(run_dir: Path) -> RunFiles:
    """meta.json and scenario.yaml's text; never raises (a missing file is already in the result's notes)."""
    meta = read_json(Path(run_dir) / files.META, Problems())
    try:
        text: str | None = (Path(run_dir) / files.SCENARIO).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = None
    return RunFiles(meta=meta if isinstance(meta, dict) else {}, scenario_text=text)
