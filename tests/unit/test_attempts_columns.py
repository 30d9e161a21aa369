"""The history's attempts as numpy columns answer as the Python lists and bisect they replaced did
(drills/checks/history.py Attempts; issue 19 item 4)."""

from __future__ import annotations

import json
import random
from bisect import bisect_left, bisect_right
from pathlib import Path

import numpy as np
import pytest

from drills.checks.availability import count_in
from drills.checks.history import Attempts, latencies_ms, load_history
from drills.checks.quantiles import percentiles
from drills.checks.recovery import EPS, invoked_before
from drills.rundir.tolerant import Problems

T0 = 1_764_150_000.0


def _attempts(rng: random.Random, n: int) -> tuple[Attempts, list[float], list[int]]:
    invoke = [T0 + rng.randrange(0, 60_000) / 1000.0 for _ in range(n)]
    complete = [i + rng.choice((0, 1, 5, 80, 2500, 9000)) / 1000.0 for i in invoke]
    order = sorted(range(n), key=complete.__getitem__)
    c = np.array([complete[k] for k in order])
    i = np.array([invoke[k] for k in order])
    att = Attempts(c, latencies_ms(c, i))
    return att, c.tolist(), att.latency_ms.tolist()


def _first_invoked_from(c: list[float], lat: list[int], t: float, not_before: float | None) -> float | None:
    """The list-and-bisect version this replaced."""
    if not c:
        return None
    j = bisect_left(c, t if not_before is None else max(t, not_before))
    limit = bisect_right(c, t + max(lat) / 1000.0)
    while j < len(c):
        if j >= limit or c[j] - lat[j] / 1000.0 >= t - 1e-6:
            return c[j]
        j += 1
    return None


def _invoked_before(c: list[float], lat: list[int], t: float) -> tuple[int, float | None]:
    if not c:
        return 0, None
    j = bisect_left(c, t)
    n, last = j, (c[j - 1] if j else None)
    horizon = t + max(lat) / 1000.0
    while j < len(c) and c[j] <= horizon + EPS:
        if c[j] - lat[j] / 1000.0 < t - EPS:
            n += 1
            last = c[j]
        j += 1
    return n, last


@pytest.mark.parametrize("n", [0, 1, 7, 400])
def test_searches_answer_as_the_lists_did(n: int) -> None:
    rng = random.Random(n)
    att, c, lat = _attempts(rng, n)
    probes = [T0 + rng.randrange(-2000, 63_000) / 1000.0 for _ in range(200)] + c[:20]
    for t in probes:
        nb = rng.choice((None, t - 1.0, t + 0.5))
        got = att.first_invoked_from(t, nb)
        assert got == _first_invoked_from(c, lat, t, nb) and (got is None or type(got) is float)
        n_before, last = invoked_before(att, t)
        assert (n_before, last) == _invoked_before(c, lat, t) and type(n_before) is int
        intervals = [(t - 3.0, t), (t + 1.0, t + 2.5)]
        assert count_in(att.complete, intervals) == sum(bisect_left(c, b) - bisect_left(c, a) for a, b in intervals)


@pytest.mark.parametrize("n", [1, 2, 99, 2001, 5000])
def test_percentiles_of_a_column_are_those_of_its_list(n: int) -> None:
    rng = random.Random(n)
    values = [rng.randrange(0, 900) for _ in range(n)]
    for ps in ((50, 95, 99), (50, 99), (0.1, 100)):
        got = percentiles(np.array(values, dtype=np.int32), ps)
        assert got == percentiles(values, ps) and all(type(v) is int for v in got.values())
    assert percentiles(np.empty(0, dtype=np.int32)) == percentiles([])


def test_a_purchase_key_is_held_as_the_known_text(tmp_path: Path) -> None:
    lines = [{"op": "purchase", "invoke": T0 + k, "complete": T0 + k + 0.05, "outcome": o, "key": f"k{k}"}
             for k, o in enumerate(("ok", "ok", "info", "fail"))]
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in lines))
    known = ["".join(("k", str(k))) for k in (0, 2, 9)] + [None, 5]
    h = load_history([path], Problems(), known=known)
    h.finish()
    keys = h.write_keys["purchase"]
    held = {k: k for k in (*keys.acknowledged, *keys.info, *keys.fail)}
    assert held["k0"] is known[0] and held["k2"] is known[1] and held["k1"] is not None
    assert sorted(keys.acknowledged) == ["k0", "k1"] and list(keys.info) == ["k2"] and list(keys.fail) == ["k3"]
    assert h.shared is None
