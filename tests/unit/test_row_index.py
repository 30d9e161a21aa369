"""RowIndex answers as the dict of every row it replaces (dict(zip(ids, values)), None rows left out), also
when different texts share a hash; WriteKeys over it as the per-outcome dicts it replaces."""

from __future__ import annotations

import random
from array import array

import numpy as np
import pytest

from drills.checks import rowindex
from drills.checks.audit import _merged
from drills.checks.history import WriteKeys
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


def test_write_keys_answer_as_the_per_outcome_dicts_did() -> None:
    rng = random.Random(11)
    cols = {o: ([rng.choice((None, f"k{rng.randrange(60)}")) for _ in range(200)], array("q", range(200)))
            for o in ("ok", "info", "fail")}
    keys = WriteKeys(cols["ok"], cols["info"], cols["fail"])
    ok = {k: r for k, r in zip(*cols["ok"], strict=True) if k is not None}                    # the last ok
    info, fail = ({k: r for k, r in reversed(list(zip(*cols[o], strict=True))) if k is not None}  # the first
                  for o in ("info", "fail"))
    assert keys.as_dicts() == (ok, info, fail) and len(keys.acknowledged) == len(ok)
    assert keys.undecided() == sorted(k for k in info if k not in ok)
    assert keys.failed() == sorted(k for k in fail if k not in ok and k not in info)
    assert keys.unacknowledged() == {k for k in (*info, *fail) if k not in ok}
    probes = [f"k{n}" for n in range(80)] + [None]
    assert keys.tried(probes).tolist() == [k in ok or k in info or k in fail for k in probes]
    assert all(keys.ref(k) == (ok.get(k, info.get(k, fail.get(k)))) for k in probes if k is not None)
    merged = _merged([keys, WriteKeys(([None, "k1", "z"], array("q", [7, 8, 9])))])
    assert merged.acknowledged["k1"] == 8 and merged.acknowledged["z"] == 9
    assert merged.as_dicts()[1:] == (info, fail)


@pytest.mark.parametrize(("n", "spread"), [(0, 1), (1, 1), (50, 3), (2000, 40), (2000, 2**62)])
def test_stable_order_is_the_stable_argsort(n: int, spread: int) -> None:
    hashes = np.random.default_rng(n).integers(-spread, spread, n, dtype=np.int64)
    order, ranked, repeats = rowindex._stable_order(hashes)
    assert order.tolist() == np.argsort(hashes, kind="stable").tolist()
    assert ranked.tolist() == sorted(hashes.tolist()) and repeats == (len(set(hashes.tolist())) < n)


@pytest.mark.parametrize("coarse", [False, True])
def test_keys_are_held_as_the_rows_equal_text(monkeypatch: pytest.MonkeyPatch, coarse: bool) -> None:
    if coarse:
        monkeypatch.setattr(rowindex, "_hash", lambda k: hash(k) % 5 if k is not None else 3)
    ids, _ = _rows(3)
    keys = ["".join(("k", str(n))) for n in range(400)] + [None, "x"]
    held = RowIndex(ids).held_as(keys)
    assert held == keys     # equal text always; the very object of a row unless another text of its hash came first
    objects = {id(k) for k in ids}
    shared = [h for h in held if h is not None and h in ids]
    assert shared and (coarse or all(id(h) in objects for h in shared))
