"""The load's view of its own .jsonl files: records, and whether the writer was cut off (drills/jsonl.py
reads; a line without its newline counts as cut off even when it parses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from drills.jsonl import Problems, iter_jsonl


@dataclass
class JsonlRead:
    records: list[dict] = field(default_factory=list)
    truncated: bool = False     # the last line was cut off (a crash mid-write) and was skipped
    bad_lines: int = 0          # unparsable lines elsewhere (should never happen; counted, skipped)


def read_jsonl(path: Path) -> JsonlRead:
    """Every complete JSON object line of `path` (missing file = no records)."""
    path = Path(path)
    if not path.is_file():
        return JsonlRead()
    problems = Problems()
    records = list(iter_jsonl(path, problems, complete_lines_only=True))
    return JsonlRead(records, path.name in problems.truncated, len(problems.bad_lines.get(path.name, [])))
