"""History lines decoded at C speed into typed columns, for the lines that need none of the tolerant reader's
care (drills/checks/history.py reads the rest one by one).

msgspec decodes each line into a struct of only the fields reading keeps, and it is strict: a field of an
unexpected type (a bool or numeric text for a time, a number for a key, a fraction for a status), a missing
`op`, `outcome`, `invoke` or `complete`, a blank, truncated or malformed line all make the whole chunk
undecodable, and the caller reads that chunk with the per-line reader, whose notes name every damaged line.
A chunk is decoded in one call, with a check on the line boundaries that makes it the same as decoding each line
on its own (decode_lines()), so a line is exactly what the per-line reader would see.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np


class _Line(msgspec.Struct, gc=False):
    """What reading keeps of a history line (history.py: KEY_FIELDS, CREDENTIAL_FIELDS; `status` for refusals)."""

    op: str
    outcome: str
    invoke: float
    complete: float
    status: int | None = None
    key: str | None = None
    user: str | None = None
    credential_version: int | None = None
    token: str | None = None


_decode_all = msgspec.json.Decoder(_Line).decode_lines
_OPEN, _CLOSE = ord("{"), ord("}")


@dataclass
class Lines:
    """A chunk of history lines as columns, in file order; `starts`: each line's byte offset in the chunk."""

    starts: np.ndarray          # int64
    op: list[str]
    outcome: list[str]
    invoke: np.ndarray          # float64
    complete: np.ndarray        # float64
    status: np.ndarray          # float64, NaN for null
    key: list[str | None]
    rows: list[_Line]           # for the few fields read row by row (credentials)

    def __len__(self) -> int:
        return len(self.op)


def decode_lines(chunk: bytes, size: int) -> Lines | None:
    """The lines in the first `size` bytes of `chunk` (whole lines; the last one may lack its newline when it
    ends the file) as columns, or None when any line is not a JSON object whose kept fields all have their
    expected types.

    The lines are decoded in one C call (msgspec's decode_lines), which skips blank lines and would read two
    objects on one line, or one object over two. So a chunk goes this way only when every line starts with `{`
    and ends with `}`: then no value can span a newline (after a `}` inside a value comes `,`, `}` or `]`, never
    `{`), every line holds at least one value, and as many values as lines means one per line, each exactly what
    decoding that line alone gives. Anything else (CRLF endings, padding) goes line by line."""
    if size == 0:
        return None
    buf = np.frombuffer(chunk, dtype=np.uint8, count=size)
    ends = np.flatnonzero(buf == 10)
    last = size - 1 if buf[-1] == 10 else size        # one past the last line's last byte
    if last < size:
        ends = ends[:-1]
    n = len(ends) + 1
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends + 1
    closes = np.empty(n, dtype=np.int64)
    closes[:-1] = ends - 1
    closes[-1] = last - 1
    if not bool(np.all(closes >= starts)):     # an empty line
        return None
    if not (bool(np.all(buf[starts] == _OPEN)) and bool(np.all(buf[closes] == _CLOSE))):
        return None
    try:
        rows = _decode_all(memoryview(chunk)[:size])
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(rows) != n:
        return None
    return Lines(
        starts=starts,
        op=[r.op for r in rows],
        outcome=[r.outcome for r in rows],
        invoke=np.fromiter([r.invoke for r in rows], dtype=np.float64, count=n),
        complete=np.fromiter([r.complete for r in rows], dtype=np.float64, count=n),
        status=np.array([r.status for r in rows], dtype=np.float64),
        key=[r.key for r in rows],
        rows=rows,
    )
