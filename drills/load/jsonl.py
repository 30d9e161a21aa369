"""Reading the append-only .jsonl files of a run directory, tolerating a crash mid-write.

docs/run-directory.md: a reader must skip a truncated last line and say so, never fail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class JsonlRead:
    records: list[dict] = field(default_factory=list)
    truncated: bool = False     # the last line was cut off (a crash mid-write) and was skipped
    bad_lines: int = 0          # unparsable lines elsewhere (should never happen; counted, skipped)


def read_jsonl(path: Path) -> JsonlRead:
    """Every complete JSON object line of `path` (missing file = no records)."""
    out = JsonlRead()
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return out
    lines = data.split(b"\n")
    last_complete = data.endswith(b"\n")
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        is_last = i == len(lines) - 1
        try:
            rec = json.loads(raw)
        except ValueError:
            if is_last and not last_complete:
                out.truncated = True
            else:
                out.bad_lines += 1
            continue
        if is_last and not last_complete:
            out.truncated = True  # parsed, but unterminated: the writer died before the newline
            continue
        if isinstance(rec, dict):
            out.records.append(rec)
    return out
