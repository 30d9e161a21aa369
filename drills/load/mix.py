"""The operation mix of the built-in workload: a weighted choice from `load.mix`."""

from __future__ import annotations

import bisect
import itertools
import random

from drills.load.config import BUILTIN_OPS


class Mix:
    """Weighted choice of the next operation (weights need not sum to 100; unknown names are ignored)."""

    def __init__(self, weights: dict[str, float]) -> None:
        items = [(op, float(w)) for op, w in weights.items() if op in BUILTIN_OPS and float(w) > 0]
        self.ops = [op for op, _ in items] or ["purchase"]
        self.cumulative = list(itertools.accumulate(w for _, w in items)) or [1.0]

    def pick(self, rng: random.Random) -> str:
        return self.ops[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]
