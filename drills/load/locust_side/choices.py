"""A buyer's choices in the built-in workload: the next operation (`Mix`), the seats to aim at (`HotSeats`) and
how long to wait before retrying a purchase (`backoff`). Pure (no locust, no gevent): unit-tested as is.

Buyers aim at specific low-numbered seats so they collide (that is what exercises the no-oversell
guarantees). Aiming at seats already known to be sold would only add `409 seats_unavailable` answers once
the hot set is gone, so each process forgets the seats it saw sold (its own purchases and the
`unavailable` list of a 409); when none is left, purchases fall back to best-available.
"""

from __future__ import annotations

import bisect
import itertools
import random

from drills.load.config import BUILTIN_OPS

RETRY_BASE_S = 0.2
RETRY_CAP_S = 3.0


def backoff(attempt: int, rng: random.Random, base: float = RETRY_BASE_S, cap: float = RETRY_CAP_S) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based) before retrying a purchase: exponential
    so a struggling stack is not hammered, with "equal jitter" (half the delay fixed, half random) so buyers who
    failed together do not retry together."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


class Mix:
    """Weighted choice of the next operation from `load.mix` (weights need not sum to 100; unknown names are
    ignored)."""

    def __init__(self, weights: dict[str, float]) -> None:
        items = [(op, float(w)) for op, w in weights.items() if op in BUILTIN_OPS and float(w) > 0]
        self.ops = [op for op, _ in items] or ["purchase"]
        self.cumulative = list(itertools.accumulate(w for _, w in items)) or [1.0]

    def pick(self, rng: random.Random) -> str:
        return self.ops[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


class HotSeats:
    """The hot set of seats buyers contend for, minus the seats this process has seen sold: seats 1..size not
    known to be sold; O(1) removal, O(k) sampling."""

    def __init__(self, size: int) -> None:
        self._free = list(range(1, size + 1))
        self._index = {seat: i for i, seat in enumerate(self._free)}

    def __len__(self) -> int:
        return len(self._free)

    def pick(self, rng: random.Random, count: int) -> list[int]:
        """Up to `count` distinct free seats, sorted (empty when the hot set is gone)."""
        return sorted(rng.sample(self._free, min(count, len(self._free))))

    def sold(self, seats: object) -> None:
        """Forget seats known to be sold (ignores anything that is not a list of seat numbers)."""
        if not isinstance(seats, list):
            return
        for seat in seats:
            i = self._index.pop(seat, None) if isinstance(seat, int) else None
            if i is None:
                continue
            last = self._free.pop()
            if i < len(self._free):
                self._free[i] = last
                self._index[last] = i
