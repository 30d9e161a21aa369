"""The audit's models, pure functions of the writes the history recorded and one collection of the final read
(Jepsen's set-full, unique-ids and counter checkers, against one read after the heal).

* set: per write identity, over all its attempts (a retry shares the identity): acknowledged = some attempt
  `ok`; lost = acknowledged and no row holds its identity (nor the id the system acknowledged it with);
  unexpected = a row whose identity no attempt used (created during the run, when creation times are read)
  or whose every attempt failed definitely; duplicated = an identity held by more than one row;
  indeterminate (`info`, never `ok`) = applied or not applied, never lost.
* unique: a value (of one field, or of several together) held by more than one row; rows with a null in the
  fields are left out, as SQL's UNIQUE leaves them.
* counter: a counter's final value must lie between what its acknowledged writes add and that plus every
  indeterminate write's amount (a definite failure adds nothing).

Identities are compared as text: a whole number reads as its decimal text on both sides. A column holding
something that cannot be an identity (a list, a fraction) is malformed: the model is unknown, never judged on
half a column.
"""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

import numpy as np

from drills.checks.finalstate import Collection
from drills.checks.history import History, WriteKeys
from drills.checks.rowindex import RowIndex

CREATED_SLACK_S = 5.0   # rows created this long before the run started still count as the run's
SERVER_ID_LOOKUPS = 10000  # beyond this many identities missing, the server-id fallback is not tried


class Malformed(ValueError):
    """A collection's column holds values a model cannot use (the model is unknown; the message says why)."""


def ident(v: object) -> str | None:
    """An identity as text: text as it is, a whole number as its decimal text, null as None."""
    if type(v) is str or v is None:
        return v
    if type(v) is int:
        return str(v)
    if type(v) is float and v.is_integer():
        return str(int(v))
    raise Malformed(f"{_shown(v)} is not text or a whole number")


def id_column(c: Collection, name: str) -> list[str | None]:
    """Column `name` of `c` as identities (text or None); raises Malformed naming the first bad row."""
    col = column(c, name)
    if set(map(type, col)) <= {str}:   # the usual case, one C-level pass
        return col
    out = []
    for k, v in enumerate(col):
        try:
            out.append(ident(v))
        except Malformed as exc:
            raise Malformed(f"{name}[{k}]: {exc}") from None
    return out


def column(c: Collection, name: str) -> list:
    found = c.columns.get(name)
    if found is None:
        raise Malformed(f"no column {name} (read: {', '.join(c.columns) or 'none'})")
    return found


def _shown(v: object) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


# set --------------------------------------------------------------------------------------------------------------

@dataclass
class SetCheck:
    """What the set model found for one write operation against one collection."""

    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)             # acknowledged, found neither by id nor server id
    missing_by_id: int = 0                                    # acknowledged ids no row holds (before the fallback)
    never: list[str] = field(default_factory=list)            # rows' ids no attempt used (created during the run)
    failed_applied: list[str] = field(default_factory=list)   # every attempt failed definitely, yet a row holds it
    duplicated: dict[str, int] = field(default_factory=dict)  # id -> rows holding it (more than one)
    applied: list[str] = field(default_factory=list)          # indeterminate, and a row holds it
    not_applied: list[str] = field(default_factory=list)      # indeterminate, and no row holds it
    null_ids: int = 0                                         # rows whose id is null (matched to nothing)
    by_id: RowIndex = field(default_factory=lambda: RowIndex([]))  # id -> its (last) row's server id, or None
    first_server: dict[str, Any] = field(default_factory=dict)  # id -> its first row's server id (duplicates)


def check_set(keys: WriteKeys, history: History, rows: Collection, id_col: str, server_col: str | None,
              server_fields: dict[str, str], created_col: str | None, since: float | None) -> SetCheck:
    """The set model for the writes `keys` (the identities of its ops, History.write_keys) against `rows`;
    raises Malformed when a column cannot be used. `server_fields`: op -> the history field of the id the
    system acknowledged a write with; `server_col`: the column holding that id."""
    ids = id_column(rows, id_col)
    servers = column(rows, server_col) if server_col else None
    created = column(rows, created_col) if created_col else None
    r = SetCheck(acknowledged=len(keys.acknowledged))
    r.by_id = by_id = RowIndex(ids, servers)     # (hashes sorted in numpy: no dict of every row)
    r.null_ids = by_id.null_ids
    if by_id.repeats:        # maybe one identity, several rows
        many = by_id.repeated()
        r.duplicated = many
        if many and servers is not None:
            r.first_server = _first_rows(many, ids, servers)
    r.lost, r.missing_by_id = _lost(keys, history, by_id, servers, server_fields)
    r.never = sorted(_never(keys, by_id, len(keys.acknowledged) - r.missing_by_id, ids, created, since))
    failed = keys.failed()
    r.failed_applied = list(compress(failed, by_id.holds(failed)))
    undecided = keys.undecided()
    held = by_id.holds(undecided)
    r.applied = list(compress(undecided, held))
    r.not_applied = list(compress(undecided, ~held))
    return r


def _lost(keys: WriteKeys, history: History, by_id: RowIndex, servers: list | None,
          server_fields: dict[str, str]) -> tuple[list[str], int]:
    """(acknowledged ids with no row by id, nor by the server id their acknowledgement named -- read back from
    the history: the id may have been mangled while the row survived; how many had no row by id)."""
    acked = keys.acknowledged
    held = by_id.holds(acked.ids)     # every ok attempt's key (null keys are not acknowledged identities)
    if held.all():  # the usual case
        return [], 0
    missing = sorted({k for k in compress(acked.ids, ~held) if k is not None})
    del held
    if not missing:
        return [], 0
    if servers is None or not server_fields or len(missing) > SERVER_ID_LOOKUPS:
        return missing, len(missing)
    lines = history.lookup(acked[k] for k in missing)

    def acknowledged_as(k: str) -> str | None:
        line = lines.get(acked[k]) or {}
        name = server_fields.get(line.get("op"))   # type: ignore[arg-type]
        return None if name is None else _server_ident(line.get(name))

    named = {k: acknowledged_as(k) for k in missing}
    present = _present(servers, {s for s in named.values() if s is not None})
    return [k for k in missing if named[k] not in present], len(missing)


def _first_rows(keys: Iterable[str], ids: Sequence[str | None], servers: Sequence) -> dict[str, Any]:
    """key -> the server id of its first row, for the duplicated `keys`: a C-level scan each when they are few,
    else one reversed dict built in C."""
    keys = list(keys)
    if len(keys) <= 64:
        return {k: servers[ids.index(k)] for k in keys}
    first = dict(zip(reversed(ids), reversed(servers), strict=False))
    return {k: first[k] for k in keys}


def _present(servers: Sequence, idents: set[str]) -> set[str]:
    """Those of `idents` that some server id of the column reads as (_server_ident()); a column of whole
    numbers read compactly (array('q')) is searched in numpy instead of being turned into a set of texts."""
    if not idents:
        return set()
    if not (isinstance(servers, array) and servers.typecode == "q"):
        return idents & _server_idents(servers)     # type: ignore[arg-type]
    numbers: dict[str, int] = {}
    for s in idents:
        try:
            n = int(s)
        except ValueError:
            continue
        if str(n) == s and -2**63 <= n < 2**63:      # a whole number's own decimal text, within int64
            numbers[s] = n
    if not numbers:
        return set()
    hit = np.isin(np.array(list(numbers.values()), dtype=np.int64), np.frombuffer(servers, dtype=np.int64))
    return {s for s, h in zip(numbers, hit.tolist(), strict=True) if h}


def _server_idents(servers: list) -> set[str]:
    """Every server id of a column as identity text (_server_ident()), by C-level passes when the column holds
    only text, whole numbers and nulls (the usual case: one row per acknowledged write)."""
    distinct = set(servers) if set(map(type, servers)) <= {str, int, type(None)} else None
    if distinct is None:
        return {s for s in map(_server_ident, servers) if s is not None}
    distinct.discard(None)
    return set(map(str, distinct))


def _server_ident(v: object) -> str | None:
    try:
        return ident(v)
    except Malformed:
        return None


def _never(keys: WriteKeys, by_id: RowIndex, acked_found: int, ids: list[str | None], created: list | None,
           since: float | None) -> set[str]:
    """Rows' identities no attempt used; with creation times, only rows created during the run (an unknown
    time counts as the run's). Counting settles the usual "none" without a set of every row: each identity
    is accounted for when the acknowledged ones found (`acked_found`) plus the others found make the rows'
    distinct identities."""
    others = list(keys.unacknowledged())
    if acked_found + int(by_id.holds(others).sum()) == by_id.distinct():
        return set()
    del others
    never = {k for k in compress(ids, ~keys.tried(ids)) if k is not None}
    if never and since is not None and created is not None:
        floor = since - CREATED_SLACK_S
        when = {k: t for k, t in zip(ids, created, strict=False) if k in never}
        never = {k for k in never if not _number(when.get(k)) or (when[k] or floor) >= floor}
    return never


def _number(v: object) -> bool:
    return (type(v) is int or type(v) is float) and math.isfinite(v)


# unique -----------------------------------------------------------------------------------------------------------

def check_unique(rows: Collection, fields: tuple[str, ...]) -> dict[tuple, int]:
    """Values of `fields` (together) held by more than one row -> how many rows hold each; raises Malformed."""
    cols = [column(rows, f) for f in fields]
    if _distinct_wholes(cols):     # the usual case, told in numpy
        return {}
    values = list(zip(*cols, strict=False)) if len(cols) > 1 else [(v,) for v in cols[0]]
    try:
        distinct = len(set(values))
    except TypeError:   # a list or an object in a column: compare their JSON text
        values = [tuple(json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v for v in t)
                  for t in values]
        distinct = len(set(values))
    if distinct == len(values):   # the usual case
        return {}
    return {v: n for v, n in Counter(values).items() if n > 1 and None not in v}


def _distinct_wholes(cols: list) -> bool:
    """Whether columns of whole numbers read compactly (array('q'), all as long) hold no row twice, by sorting
    in numpy; False also when that cannot be told so (check_unique() then counts)."""
    if not all(isinstance(c, array) and c.typecode == "q" and len(c) == len(cols[0]) for c in cols):
        return False
    if not len(cols[0]):
        return True
    table = [np.frombuffer(c, dtype=np.int64) for c in cols]       # views, no copy
    if _increasing(table):
        return True
    order = np.lexsort(table[::-1])
    same = np.ones(len(order) - 1, dtype=bool)    # row k+1 equals row k (sorted), one column at a time
    for col in table:
        ranked = col[order]
        same &= ranked[1:] == ranked[:-1]
    return not bool(same.any())


def _increasing(table: list[np.ndarray]) -> bool:
    """Whether the rows of equally long columns are in strictly increasing order (so none repeats), told with a
    pass per column instead of sorting (the usual layout: rows written in the order of their values)."""
    later = np.zeros(len(table[0]) - 1, dtype=bool)   # row k+1 is after row k, by an earlier column
    tied = np.ones(len(table[0]) - 1, dtype=bool)     # ... or equal to it so far
    for col in table:
        later |= tied & (col[1:] > col[:-1])
        tied &= col[1:] == col[:-1]
    return bool(later.all())


# counter ----------------------------------------------------------------------------------------------------------

@dataclass
class CounterCheck:
    """What the counter model found: how many counters were judged, those out of bounds, and those whose bounds
    are unknown (a write to them recorded no amount)."""

    checked: int = 0
    out_of_bounds: list[dict] = field(default_factory=list)
    unbounded: list[str | None] = field(default_factory=list)


_RANK = {"fail": 0, "info": 1, "ok": 2}


def check_counter(history: History, ops: tuple[str, ...], rows: Collection, value_col: str,
                  counter_col: str | None, initial: float) -> CounterCheck:
    """Every counter the writes of `ops` added to (or the read holds) against its bounds; raises Malformed."""
    bounds = _bounds(history, ops)
    finals = _finals(rows, value_col, counter_col)
    r = CounterCheck()
    for counter in sorted(bounds.keys() | finals.keys(), key=lambda c: (c is None, c or "")):
        b = bounds.get(counter, (0.0, 0.0, 0.0))
        if b is None:
            r.unbounded.append(counter)
            continue
        acked, down, up = b
        lo, hi = initial + acked + down, initial + acked + up
        found = finals.get(counter)
        r.checked += 1
        row = {"counter": counter, "final": found[0] if found else None, "expected_min": lo, "expected_max": hi,
               "acknowledged": acked, "indeterminate_down": down, "indeterminate_up": up}
        if found is None:
            if acked or down or up:
                r.out_of_bounds.append({**row, "reason": "not in the final read"})
        elif found[1] > 1:
            r.out_of_bounds.append({**row, "reason": f"{found[1]} rows hold this counter"})
        elif not lo - _eps(lo) <= found[0] <= hi + _eps(hi):
            r.out_of_bounds.append({**row, "reason": "below what the acknowledged writes add" if found[0] < lo
                                    else "above what every write could add"})
    return r


def _eps(x: float) -> float:
    return 1e-9 * max(1.0, abs(x))


def _bounds(history: History, ops: tuple[str, ...]) -> dict[str | None, tuple[float, float, float] | None]:
    """counter -> (acknowledged sum, indeterminate negative sum, indeterminate positive sum), None when a write
    to it that may have taken effect recorded no amount. A write is its identity over all its attempts (an
    unkeyed attempt is a write of its own)."""
    writes: dict[tuple, list] = {}   # identity -> [best outcome, amount, counter]
    for op in ops:
        for k, (key, outcome, amount, counter) in enumerate(history.amounts.get(op, [])):
            w = writes.setdefault((op, key) if key is not None else (op, None, k), [0, None, None])
            w[0] = max(w[0], _RANK[outcome])
            if w[1] is None:
                w[1] = amount
            if w[2] is None:
                w[2] = counter
    sums: dict[str | None, list[float] | None] = {}
    for rank, amount, counter in writes.values():
        if rank == 0:
            continue   # definitely failed: adds nothing
        acc = sums.setdefault(counter, [0.0, 0.0, 0.0])
        if acc is None:
            continue
        if amount is None:
            sums[counter] = None
        elif rank == 2:
            acc[0] += amount
        elif amount < 0:
            acc[1] += amount
        else:
            acc[2] += amount
    return {c: None if a is None else (a[0], a[1], a[2]) for c, a in sums.items()}


def _finals(rows: Collection, value_col: str, counter_col: str | None) -> dict[str | None, tuple[float, int]]:
    """counter -> (its final value, how many rows hold it)."""
    values = column(rows, value_col)
    names: list[str | None] = id_column(rows, counter_col) if counter_col else [None] * len(values)
    out: dict[str | None, tuple[float, int]] = {}
    for k, (name, v) in enumerate(zip(names, values, strict=False)):
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                pass
        if not _number(v):
            raise Malformed(f"{value_col}[{k}]: {_shown(v)} is not a number")
        prev = out.get(name)
        out[name] = (float(v), prev[1] + 1 if prev else 1)
    return out
