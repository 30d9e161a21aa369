"""The rows of a collection found by their identity text, without a dict of every row.

A dict from each row's identity to its server id costs ~50 bytes a row plus the boxed ids (~500 MB at 10M
rows). This index holds the identities' hashes sorted (numpy int64) and the row each came from: a lookup is a
binary search, then an exact comparison of the text (equal texts hash alike; a hash shared by different texts
is told apart by that comparison, never taken as a match). Many identities are looked up at once in numpy,
with the exact comparisons made by C-level passes over slices.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

_SLICE = 1 << 16   # identities compared per C-level pass (keeps the temporary row lists small)
_hash = hash       # (a test narrows it to make texts share hashes)


def _hashes(keys: Sequence[str | None]) -> np.ndarray:
    return np.fromiter(map(_hash, keys), dtype=np.int64, count=len(keys))


def _stable_order(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(np.argsort(hashes, kind="stable"), the hashes in that order, whether one repeats), in a third of the
    time: numpy's stable sort of int64 is a merge sort, its default one ~4x faster; only the rows of a hash that
    several rows share (few: one identity tried again, hardly ever two texts) can come out of file order, and
    those are put back in it."""
    order = np.argsort(hashes)
    ranked = hashes[order]
    mark = _tied(ranked)
    repeats = bool(mark.any())
    if repeats:
        rows = order[mark]
        order[mark] = rows[np.lexsort((rows, ranked[mark]))]
    return order, ranked, repeats


def _tied(ranked: np.ndarray) -> np.ndarray:
    """Which entries of sorted `ranked` a neighbour equals (the hashes several rows share)."""
    tied = ranked[1:] == ranked[:-1]
    mark = np.zeros(len(ranked), dtype=bool)
    mark[1:] |= tied
    mark[:-1] |= tied
    return mark


def _search(sorted_hashes: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """np.searchsorted(sorted_hashes, needles), the needles searched in sorted order: the same positions, but
    each search starts from where the previous one ended instead of striding over the whole table at random
    (~4x faster for a slice of 64k hashes in 600k: the cache misses, not the comparisons, are the cost)."""
    order = np.argsort(needles)
    at = np.empty(len(needles), dtype=np.intp)
    at[order] = np.searchsorted(sorted_hashes, needles[order])
    return at


class RowIndex:
    """Rows of `ids` (identities as text, or None: such a row matches nothing) by identity; `values`, the same
    length, is what get() answers for an identity: the value of its last row (as dict(zip(ids, values)) would),
    or of its first with `first`."""

    def __init__(self, ids: Sequence[str | None], values: Sequence[Any] | None = None, first: bool = False) -> None:
        self.ids, self.values = ids, values
        self._pick = 0 if first else -1
        self._distinct: int | None = None
        hashes = _hashes(ids)
        self.null_ids = ids.count(None) if isinstance(ids, list) else sum(1 for k in ids if k is None)
        rows = None
        if self.null_ids:        # leave out the null rows (a text hashing like None stays, told by its text)
            keep = np.ones(len(ids), dtype=bool)
            like_none = np.flatnonzero(hashes == _hash(None)).tolist()
            keep[[r for r in like_none if ids[r] is None]] = False
            rows = np.flatnonzero(keep)
            hashes = hashes[rows]
        order, self.hashes, self.repeats = _stable_order(hashes)    # rows of one hash stay in file order
        self.rows = rows[order] if rows is not None else order

    def rows_of(self, key: str) -> list[int]:
        """Every row holding `key`, in file order."""
        h = _hash(key)
        lo, hi = np.searchsorted(self.hashes, h, "left"), np.searchsorted(self.hashes, h, "right")
        return [r for r in self.rows[lo:hi].tolist() if self.ids[r] == key]

    def __contains__(self, key: object) -> bool:
        return type(key) is str and bool(self.rows_of(key))

    def get(self, key: str, default: Any = None) -> Any:
        """The value of the last row holding `key` (None without values), else `default`."""
        rows = self.rows_of(key)
        if not rows:
            return default
        return None if self.values is None else self.values[rows[self._pick]]

    def __getitem__(self, key: str) -> Any:
        rows = self.rows_of(key)
        if not rows:
            raise KeyError(key)
        return None if self.values is None else self.values[rows[self._pick]]

    def __len__(self) -> int:
        """How many distinct identities the rows hold."""
        return self.distinct()

    def __bool__(self) -> bool:
        return bool(len(self.hashes))

    def __iter__(self) -> Iterator[str]:
        """Each identity once, in the order of its first row (a dict of them is built: not for every row of a
        large run's hot path)."""
        seen = dict.fromkeys(self.ids)
        seen.pop(None, None)
        return iter(seen)  # type: ignore[arg-type]

    def holds(self, keys: Sequence[str | None]) -> np.ndarray:
        """Whether a row holds each of `keys` (bool array, in their order): hashes searched in numpy, each
        candidate's text compared exactly; a key whose first candidate row differs is searched on its own."""
        out = np.zeros(len(keys), dtype=bool)
        if not len(keys) or not len(self.hashes):
            return out
        for start in range(0, len(keys), _SLICE):
            part = keys[start:start + _SLICE]
            where, rows = self._candidates(part)
            same = np.fromiter(map(operator.eq, map(part.__getitem__, where.tolist()), map(self.ids.__getitem__, rows)),
                               dtype=bool, count=len(rows))
            out[start + where[same]] = True
            for j in where[~same].tolist():       # another text of the same hash came first
                out[start + j] = part[j] in self
        return out

    def held_as(self, keys: Sequence[str | None]) -> list[str | None]:
        """`keys` with each one a row holds replaced by that row's identity object (equal text, so nothing that
        compares them changes): the texts are then held once. A key whose first candidate row differs (another
        text of its hash) stays as it is: that costs memory, never a wrong match."""
        out = list(keys)
        if not out or not len(self.hashes):
            return out
        where, rows = self._candidates(out)
        ids = self.ids
        for j, r in zip(where.tolist(), rows, strict=True):
            if ids[r] == out[j]:
                out[j] = ids[r]
        return out

    def _candidates(self, keys: Sequence[str | None]) -> tuple[np.ndarray, list[int]]:
        """Where in `keys` a row has the key's hash, and for each the first such row (by hash order): the
        candidate whose text the caller compares."""
        h = _hashes(keys)
        at = _search(self.hashes, h)
        where = np.flatnonzero(self.hashes[np.minimum(at, len(self.hashes) - 1)] == h)
        return where, self.rows[at[where]].tolist()

    def _shared_hash_rows(self) -> list[int]:
        """The rows whose hash another row shares, in file order (the only rows that can repeat a text)."""
        if not self.repeats:
            return []
        return np.sort(self.rows[_tied(self.hashes)]).tolist()

    def repeated(self) -> dict[str, int]:
        """Identities held by more than one row -> how many, in the order of their first row."""
        counts: Counter = Counter(map(self.ids.__getitem__, self._shared_hash_rows()))
        return {k: n for k, n in counts.items() if n > 1}

    def distinct(self) -> int:
        """How many distinct identities the rows hold."""
        if self._distinct is None:
            self._distinct = len(self.hashes) - sum(n - 1 for n in self.repeated().values())
        return self._distinct
