"""History lines decoded at C speed into typed columns, for the lines that need none of the tolerant reader's
care (drills/checks/history.py reads the rest one by one).

msgspec decodes each line into a struct of only the fields reading keeps, and it is strict: a field of an
unexpected type (a bool or numeric text for a time, a number for a key, a fraction for a status), a missing
`op`, `outcome`, `invoke` or `complete`, a blank, truncated or malformed line all make the whole chunk
undecodable, and the caller reads that chunk with the per-line reader, whose notes name every damaged line.
Each line is decoded on its own (not as one stream), so a line is exactly what the per-line reader would see.
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


_decode = msgspec.json.Decoder(_Line).decode


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
    expected types."""
    lines = chunk.split(b"\n")
    if size < len(chunk) or chunk.endswith(b"\n"):     # what follows the last newline: the next chunk's
        lines.pop()
    try:
        rows = list(map(_decode, lines))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    n = len(rows)
    ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8, count=size) == 10)
    starts = np.zeros(n, dtype=np.int64)
    starts[1:] = ends[:n - 1] + 1
    return Lines(
        starts=starts,
        op=[r.op for r in rows],
        outcome=[r.outcome for r in rows],
        invoke=np.fromiter([r.invoke for r in rows], dtype=np.float64, count=n),
        complete=np.fromiter([r.complete for r in rows], dtype=np.float64, count=n),
        status=np.array([r.status for r in rows], dtype=np.float64) if n else np.empty(0),
        key=[r.key for r in rows],
        rows=rows,
    )
