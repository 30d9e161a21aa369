"""Reading the run directory tolerantly: a run that crashed mid-write leaves a truncated last line, a file
may be absent; a reader skips what it cannot read, says so in `Problems`, and never raises for it."""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import orjson

from drills.rundir import codec
from drills.rundir.codec import DECODE_ERRORS, loads


class Problems:
    """Where the run directory fell short: files that are absent and lines that were skipped (as notes in
    words, and per file: the line number of a truncated last line and the numbers of other bad lines)."""

    def __init__(self) -> None:
        self.missing_files: list[str] = []
        self.notes: list[str] = []
        self.truncated: dict[str, int] = {}          # file name -> line number of its truncated last line
        self.bad_lines: dict[str, list[int]] = {}    # file name -> numbers of other lines that were skipped
        self.damaged: list[str] = []                 # files that are there but could not be read, in words

    def missing(self, name: str) -> None:
        if name not in self.missing_files:
            self.missing_files.append(name)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def unreadable(self, text: str) -> None:
        self.damaged.append(text)
        self.note(text)

    def bad_line(self, path: Path, lineno: int, raw: bytes) -> None:
        """A line that is not a JSON object: a truncated last line (no newline) or garbage mid-file."""
        if raw.endswith(b"\n"):
            self.bad_lines.setdefault(path.name, []).append(lineno)
            self.note(f"{path.name}:{lineno}: not a JSON object, skipped")
        else:
            self.truncated[path.name] = lineno
            self.note(f"{path.name}:{lineno}: truncated last line skipped (the writer stopped mid-line)")

    def file_notes(self, path: Path) -> list[str]:
        """The skipped lines of one file in a reader's words: a cut-off last line is expected after a crash
        (garbage as the very last line counts as one), other bad lines are not."""
        last = self.truncated.get(path.name)
        bad = self.bad_lines.get(path.name, [])
        if last is None and bad and _is_last_line(path, bad[-1]):
            last, bad = bad[-1], bad[:-1]
        notes = []
        if last is not None:
            notes.append(f"{path.name}: last line truncated (line {last}, skipped)")
        if bad:
            shown = ", ".join(str(n) for n in bad[:5]) + (" …" if len(bad) > 5 else "")
            notes.append(f"{path.name}: {len(bad)} unreadable line(s) skipped (line {shown})")
        return notes


def _is_last_line(path: Path, lineno: int) -> bool:
    try:
        with path.open("rb") as f:
            return all(not raw.strip() for raw in itertools.islice(f, lineno, None))
    except OSError:
        return False


def iter_jsonl(path: Path, problems: Problems, complete_lines_only: bool = False) -> Iterator[dict]:
    """Yield every JSON object line of `path`; bad lines are skipped and recorded in `problems`.

    `complete_lines_only` also skips a last line without its newline even when it parses: the writers write
    each line and its newline at once, so a missing newline means it was cut off there."""
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


def read_jsonl(path: Path, problems: Problems, keys: tuple[str, ...] | None = None) -> list[dict]:
    """All objects of a JSON-lines file (only `keys` of each, when given); an absent file is recorded as
    missing, an unreadable one as damaged — neither raises."""
    if not path.is_file():
        problems.missing(path.name)
        return []
    try:
        if keys:
            return [{k: row.get(k) for k in keys} for row in iter_jsonl(path, problems)]
        return list(iter_jsonl(path, problems))
    except OSError as exc:
        problems.unreadable(f"{path.name}: cannot be read ({exc.strerror or exc})")
        return []


def read_json(path: Path, problems: Problems) -> Any:
    """A whole JSON file, or None when it is absent or unreadable (recorded in `problems`)."""
    if not path.is_file():
        problems.missing(path.name)
        return None
    try:
        return loads(path.read_bytes())
    except OSError as exc:
        problems.unreadable(f"{path.name}: cannot be read ({exc.strerror or exc})")
    except DECODE_ERRORS as exc:
        problems.unreadable(f"{path.name}: not valid JSON ({exc}); ignored")
    return None


_raw_object = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_ints = msgspec.json.Decoder(list[int]).decode
_texts = msgspec.json.Decoder(list[str]).decode
_SCALARS = frozenset((int, float, str, bool, type(None)))


def read_json_columns(path: Path, problems: Problems, sections: tuple[str, ...]) -> Any:
    """read_json() of a file whose `sections` are objects of long columns (final-state.json's orders and
    tickets): the same value, but parsed one column at a time, and a column of whole numbers kept as
    array('q'), one of other numbers (times) as array('d') -- 8 bytes a value instead of a number object and
    its pointer, so a million rows neither peak nor stay at hundreds of MB. A file it cannot take exactly (not
    an object, malformed, a column holding lists or objects, the standard-library codec) goes through
    read_json(), whose notes say what was wrong."""
    if codec.BACKEND != "orjson" or not path.is_file():
        return read_json(path, problems)
    try:
        data = path.read_bytes()
    except OSError:
        return read_json(path, problems)
    doc = _by_columns(data, sections)
    return doc if doc is not None else read_json(path, problems)


def _by_columns(data: bytes, sections: tuple[str, ...]) -> dict[str, Any] | None:
    """The document of read_json_columns(), or None when it needs read_json()."""
    if data[:1] != b"{":
        return None
    try:
        top = _raw_object(data)
        columns = {}
        for name in sections:
            raw = top.get(name)
            if raw is not None and bytes(memoryview(raw)[:1]) == b"{":
                columns[name] = _raw_object(raw)
        rest = loads(b"{" + b",".join(codec.dumps(k) + b":" + bytes(v) for k, v in top.items()
                                      if k not in columns) + b"}")    # the small sections, as one document
        doc: dict[str, Any] = {}
        for name in top:
            if name not in columns:
                doc[name] = rest[name]
                continue
            section = doc[name] = {}
            for col, raw in columns[name].items():
                typed = _typed_column(raw)
                if typed is not None:
                    section[col] = typed
                    continue
                value = orjson.loads(memoryview(raw))
                if type(value) is dict:
                    return None         # (read_json() decides on its depth)
                if type(value) is list:
                    kinds = set(map(type, value))
                    if not kinds <= _SCALARS:
                        return None     # nested values: read_json() decides on depth and damage
                    if kinds == {int} and len(value) > 1:
                        try:
                            value = array("q", value)
                        except OverflowError:
                            pass
                    elif kinds == {float} and len(value) > 1:      # finite: JSON has no NaN
                        value = array("d", value)
                section[col] = value
        return doc
    except (msgspec.DecodeError, orjson.JSONDecodeError, ValueError, TypeError, RecursionError):
        return None


def _typed_column(raw: msgspec.Raw) -> array | list | None:
    """A column of several whole numbers, all within int64, as array('q'), or one of text as its list, decoded
    as such in C (the usual columns: no pass asking each value's type); None for any other column (_by_columns()
    reads it). orjson reads the same values: the same ints (beyond 64 bits it reads floats, and those are left
    to it), the same texts (both refuse invalid UTF-8, lone surrogates, raw control characters)."""
    try:
        value = _ints(raw)
    except msgspec.DecodeError:         # (a ValidationError is one): not only whole numbers, or malformed
        try:
            return _texts(raw)
        except msgspec.DecodeError:
            return None
    if len(value) < 2:
        return None
    try:
        return array("q", value)
    except OverflowError:
        return None


@dataclass
class CompleteLines:
    """What a writer's own file holds: its complete records, and whether it was cut off."""

    records: list[dict] = field(default_factory=list)
    truncated: bool = False     # the last line was cut off (a crash mid-write) and was skipped
    bad_lines: int = 0          # unparsable lines elsewhere (should never happen; counted, skipped)


def read_complete(path: Path) -> CompleteLines:
    """Every complete JSON object line of `path` (missing file = no records): a line without its newline
    counts as cut off even when it parses (the load checks its own files with this)."""
    path = Path(path)
    if not path.is_file():
        return CompleteLines()
    problems = Problems()
    records = list(iter_jsonl(path, problems, complete_lines_only=True))
    return CompleteLines(records, path.name in problems.truncated, len(problems.bad_lines.get(path.name, [])))
