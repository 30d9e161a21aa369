"""Tolerant JSON and JSON-lines reading for the run directory: the one reader the checks, the report and the
load tests share (writing is drills/runner/jsonl.py).

A run that crashed mid-write leaves a truncated last line; a reader must skip it and say so, never fail
(docs/run-directory.md). `loads` is orjson's when it is installed (about 2-3x faster on the million-line
histories the audit reads), the standard library's otherwise; both accept bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

loads: Callable[[bytes | str], Any] = json.loads
DECODE_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError)
BACKEND = "json"
if os.environ.get("DRILLS_JSON", "").lower() not in ("json", "stdlib"):  # DRILLS_JSON=json forces the stdlib
    try:  # optional speed-up; results are identical
        import orjson as _orjson

        loads = _orjson.loads
        DECODE_ERRORS = (_orjson.JSONDecodeError, ValueError, TypeError)
        BACKEND = "orjson"
    except ImportError:  # pragma: no cover - depends on the environment
        pass


class Problems:
    """Where the run directory fell short: files that are absent and lines that were skipped (as notes in
    words, and per file: the line number of a truncated last line and the numbers of other bad lines)."""

    def __init__(self) -> None:
        self.missing_files: list[str] = []
        self.notes: list[str] = []
        self.truncated: dict[str, int] = {}          # file name -> line number of its truncated last line
        self.bad_lines: dict[str, list[int]] = {}    # file name -> numbers of other lines that were skipped

    def missing(self, name: str) -> None:
        if name not in self.missing_files:
            self.missing_files.append(name)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def bad_line(self, path: Path, lineno: int, raw: bytes) -> None:
        """A line that is not a JSON object: a truncated last line (no newline) or garbage mid-file."""
        if raw.endswith(b"\n"):
            self.bad_lines.setdefault(path.name, []).append(lineno)
            self.note(f"{path.name}:{lineno}: not a JSON object, skipped")
        else:
            self.truncated[path.name] = lineno
            self.note(f"{path.name}:{lineno}: truncated last line skipped (the writer stopped mid-line)")


def iter_jsonl(path: Path, problems: Problems, complete_lines_only: bool = False) -> Iterator[dict]:
    """Yield every JSON object line of `path`; bad lines are skipped and recorded in `problems`.

    `complete_lines_only` also skips a last line without its newline even when it parses: the writer
    writes each line and its newline at once, so a missing newline means it was cut off there."""
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if complete_lines_only and not raw.endswith(b"\n"):
                if raw.strip():
                    problems.bad_line(path, lineno, raw)
                continue
            try:
                obj = loads(raw)
            except DECODE_ERRORS:
                if raw.strip():
                    problems.bad_line(path, lineno, raw)
                continue
            if isinstance(obj, dict):
                yield obj
            else:
                problems.bad_line(path, lineno, raw)


def read_jsonl(path: Path, problems: Problems) -> list[dict]:
    """All objects of a small JSON-lines file; an absent file is recorded as missing, not raised."""
    if not path.is_file():
        problems.missing(path.name)
        return []
    return list(iter_jsonl(path, problems))


def read_json(path: Path, problems: Problems) -> Any:
    """A whole JSON file, or None when it is absent or unreadable (recorded in `problems`)."""
    if not path.is_file():
        problems.missing(path.name)
        return None
    try:
        return loads(path.read_bytes())
    except DECODE_ERRORS as exc:
        problems.note(f"{path.name}: not valid JSON ({exc}); ignored")
        return None
