"""What a buyer of the built-in workload picks: its next operation, its seats, its wait before a retry.

Pure (no Locust, no gevent), so the workload's randomness is unit-tested without starting Locust:

* `Mix`: the next operation, a weighted choice from `load.mix`;
* `HotSeats`: the hot set of seats buyers contend for, minus the seats this process has seen sold.
  Buyers aim at specific low-numbered seats so they collide (that is what exercises the no-oversell
  guarantees). Aiming at seats already known to be sold would only add `409 seats_unavailable` answers
  once the hot set is gone, so each process forgets the seats it saw sold (its own purchases and the
  `unavailable` list of a 409); when none is left, purchases fall back to best-available;
* `backoff`: the wait between retries of one purchase (same Idempotency-Key, same body). Exponential so
  a struggling stack is not hammered, with jitter so buyers who failed together do not retry together
  ("equal jitter": half the delay fixed, half random).
"""

from __future__ import annotations

import bisect
import itertools
import random

from drills.load.config import BUILTIN_OPS

BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 3.0


class Mix:
    """Weighted choice of the next operation (weights need not sum to 100; unknown names are ignored)."""

    def __init__(self, weights: dict[str, float]) -> None:
        items = [(op, float(w)) for op, w in weights.items() if op in BUILTIN_OPS and float(w) > 0]
        self.ops = [op for op, _ in items] or ["purchase"]
        self.cumulative = list(itertools.accumulate(w for _, w in items)) or [1.0]

    def pick(self, rng: random.Random) -> str:
        return self.ops[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


class HotSeats:
    """Seats 1..size not known to be sold; O(1) removal, O(k) sampling."""

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


def backoff(attempt: int, rng: random.Random, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based) before the next one."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay / 2 + rng.uniform(0, delay / 2)
