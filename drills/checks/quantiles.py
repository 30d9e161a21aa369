"""Exact nearest-rank percentiles.

Nearest-rank (the value at rank ceil(p/100 * n) of the sorted sample) always returns an observed latency,
never an interpolation, so "p99 = 812 ms" means some buyer really waited 812 ms. Latencies are whole
milliseconds (the run directory's clock has millisecond precision), so a large sample is counted rather
than sorted: the distinct values are few, and the answer is the same. A numpy column (the history's
latencies) is answered by np.partition at the ranks, as Python numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

DEFAULT = (50, 95, 99)
_COUNT_ABOVE = 2000  # beyond this many values, counting is at least as fast as sorting


def rank(p: float, n: int) -> int:
    """1-based nearest rank of percentile `p` in a sample of `n` (n > 0)."""
    return min(n, max(1, math.ceil(p * n / 100.0 - 1e-9)))


def percentiles(values: Sequence[int] | Sequence[float] | np.ndarray, ps: Sequence[float] = DEFAULT
                ) -> dict[str, float | None]:
    """{"p50": v, ...} for the given percentiles; None for an empty sample."""
    n = len(values)
    names = [f"p{p:g}" for p in ps]
    if n == 0:
        return dict.fromkeys(names)
    if isinstance(values, np.ndarray):
        ranks = [rank(p, n) - 1 for p in ps]
        picked = np.partition(values, sorted(set(ranks)))
        return {name: picked[k].item() for name, k in zip(names, ranks, strict=False)}
    if n <= _COUNT_ABOVE:
        ordered = sorted(values)
        return {name: ordered[rank(p, n) - 1] for name, p in zip(names, ps, strict=False)}
    counts = Counter(values)
    targets = sorted((rank(p, n), name) for name, p in zip(names, ps, strict=False))
    out: dict[str, float | None] = {}
    seen, t = 0, 0
    for value in sorted(counts):
        seen += counts[value]
        while t < len(targets) and targets[t][0] <= seen:
            out[targets[t][1]] = value
            t += 1
        if t == len(targets):
            break
    return {name: out.get(name) for name in names}
