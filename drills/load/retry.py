"""Backoff between retries of one purchase (same Idempotency-Key, same body).

Exponential so a struggling stack is not hammered, with jitter so buyers who failed together do not
retry together ("equal jitter": half the delay fixed, half random).
"""

from __future__ import annotations

import random

BASE_S = 0.2
CAP_S = 3.0


def backoff(attempt: int, rng: random.Random, base: float = BASE_S, cap: float = CAP_S) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based) before the next one."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay / 2 + rng.uniform(0, delay / 2)
