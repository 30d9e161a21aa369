"""What the checks make of a run directory's damaged or oversized content: how much of its text they copy into
result.json, what counts as a time, and how a note names the damaged lines.

* Strings. The run directory is written by the harness, by the system under test and, after a crash, by
  nobody in particular: an error message of 5 MB in events.jsonl or a history line must not make a 5 MB
  result.json (one 45 MB events file made a 6.4 MB result before this cap). Every string of the result (keys
  of its objects too) is cut to STRING_MAX UTF-8 bytes (drills/rundir/textcap.py), saying how much it cut:
  "… (4 996 000 bytes cut)".
  The report shows no more of any string either (drills/report/quote.py). Documented in
  docs/run-directory.md ("result.json").
* Times. A moment in a run's files is a number of epoch seconds between EPOCH_MIN and EPOCH_MAX (epoch()):
  a true/false, 0, a negative number, 1e308 or NaN is damage, never a time (it would overflow the arithmetic
  or stretch the load window over centuries). MOMENT says so in a note.
* Notes. A Tally counts damaged lines by file and by what was wrong and names the first few, so a file
  damaged throughout makes a few notes, not one per line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from drills.rundir.textcap import STRING_MAX, cap

EPOCH_MIN = 1.0         # a moment is later than the first second of 1970 (so true, false and 0 are not one)
EPOCH_MAX = 1e11        # ... and earlier than about the year 5138
MOMENT = f"epoch seconds in ({EPOCH_MIN:g}, {EPOCH_MAX:g})"


def json_safe(value: Any, limit: int = STRING_MAX) -> Any:
    """A JSON value fit for result.json: infinite or NaN floats (open intervals) become null, so the file stays
    strict JSON, and every string (object keys too) is cut to `limit` bytes by cap()."""
    if isinstance(value, str):
        return cap(value, limit)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {cap(k, limit) if isinstance(k, str) else k: json_safe(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, limit) for v in value]
    return value


def epoch(value: object) -> float | None:
    """`value` as a moment (epoch seconds), None when it is not one (see the module docstring)."""
    if type(value) is not float and type(value) is not int:
        return None
    try:
        t = float(value)
    except OverflowError:           # an integer beyond any float
        return None
    return t if EPOCH_MIN < t < EPOCH_MAX else None


MISSING = object()      # a value that is not there at all


def kind(value: object) -> str:
    """A damaged value in a few words for a note: a short text or a number as itself, anything else by kind."""
    if value is MISSING:
        return "missing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 and value.isprintable() else "text"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= 40 else "a huge number"
    return {dict: "an object", list: "a list", type(None): "null"}.get(type(value), "a value")


def label(name: str) -> str:
    """A key (a node, a user) named in a note: itself when short and printable, else '…'."""
    return name if len(name) <= 40 and name.isprintable() else "…"


Issue = tuple[str, str, object]     # (field, what was wrong and what became of it, the value found)


class Tally:
    """Damaged lines of JSON-lines files, by file and by what was wrong: how many, and the first few lines
    (number and value) to name, so a note says where to look and a file damaged throughout makes a few notes,
    not one per line."""

    SHOWN = 5

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}     # (file name, what) -> lines
        self.shown: dict[tuple[str, str], list[str]] = {}

    def add(self, path: Path, lineno: int, issues: list[Issue]) -> None:
        for _, what, value in issues:
            key = (path.name, what)
            self.counts[key] = self.counts.get(key, 0) + 1
            shown = self.shown.setdefault(key, [])
            if len(shown) < self.SHOWN:
                shown.append(f"line {lineno} ({kind(value)})")

    def wants(self, path: Path, issues: list[Issue]) -> bool:
        """Whether a line with these issues would be named (its number is worth finding)."""
        return any(len(self.shown.get((path.name, what), ())) < self.SHOWN for _, what, _ in issues)

    def notes(self) -> list[str]:
        """'history.jsonl: `key` not text: read as null (2 line(s): line 4 (a list), line 9 (12))' and so on."""
        return [f"{name}: {what} ({n} line(s): {', '.join(self.shown[name, what])}"
                f"{', …' if n > self.SHOWN else ''})" for (name, what), n in self.counts.items()]
