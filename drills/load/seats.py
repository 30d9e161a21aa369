"""The hot set of seats buyers contend for, minus the seats this process has seen sold.

Buyers aim at specific low-numbered seats so they collide (that is what exercises the no-oversell
guarantees). Aiming at seats already known to be sold would only add `409 seats_unavailable` answers once
the hot set is gone, so each process forgets the seats it saw sold (its own purchases and the
`unavailable` list of a 409); when none is left, purchases fall back to best-available.
"""

from __future__ import annotations

import random


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
