"""RowIndex answers as the dict of every row it replaces (dict(zip(ids, values)), None rows left out), also
when different texts share a hash."""

from __future__ import annotations

import random

import numpy as np
import pytest

from drills.checks import rowindex
from drills.checks.rowindex import RowIndex


def _rows(seed: int) -> tuple[list[str | None], list[int]]:
    rng = random.Random(seed)
    ids: list[str | None] = [rng.choice((None, f"k{rng.randrange(300)}", f"k{n}", f"u{n}")) for n in range(1500)]
    return ids, list(range(len(ids)))


@pytest.mark.parametrize("coarse", [False, True])
def test_row_index_answers_as_the_dict_of_every_row(monkeypatch: pytest.MonkeyPatch, coarse: bool) -> None:
    if coarse:   # many texts (and None) share a hash: the exact comparison must tell them apart
        monkeypatch.setattr(rowindex, "_hash", lambda k: hash(k) % 5 if k is not None else 3)
    ids, values = _rows(7)
    expected = dict(zip(ids, values, strict=True))
    expected.pop(None)
    index = RowIndex(ids, values)
    assert index.null_ids == ids.count(None)
    assert index.distinct() == len(expected)
    probes = [f"k{n}" for n in range(0, 2000, 3)] + [f"u{n}" for n in range(0, 2000, 7)] + ["", "zz"]
    assert index.holds(probes).tolist() == [k in expected for k in probes]
    assert all(index.get(k) == expected.get(k) and (k in index) == (k in expected) for k in probes)
    assert None not in index and index.get("zz", "no") == "no"
    with pytest.raises(KeyError):
        index["zz"]   # noqa: B018


def test_row_index_without_values_and_empty() -> None:
    index = RowIndex(["a", "b", "a"])
    assert index.get("a", 1) is None and index.repeated() == {"a": 2} and index.distinct() == 2
    empty = RowIndex([])
    assert empty.holds(["a"]).tolist() == [False] and empty.distinct() == 0 and empty.holds([]).dtype == np.bool_
