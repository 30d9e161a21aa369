"""Per-second load statistics of one Locust process, for stats.jsonl (docs/run-directory.md).

Computed from that second's own operations, not from Locust's smoothed running stats, so a stall shows up
in the second it happened. Operations are counted in the second they complete (`requests`, outcomes,
latency) and in the second they start (`offered_rate`), which is what tells offered load from achieved
load. A line is written for every second, including empty ones: a second with no answers is the signal.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


class _Bucket:
    __slots__ = ("ok", "fail", "info", "latencies", "started", "dropped", "exceptions")

    def __init__(self) -> None:
        self.ok = self.fail = self.info = self.started = self.dropped = self.exceptions = 0
        self.latencies: list[float] = []


class SecondStats:
    """Buckets operations by wall-clock second; `due_lines` turns finished seconds into stats lines."""

    def __init__(self, worker: str, start: float) -> None:
        self.worker = worker
        self._next = int(start)           # first second not yet emitted
        self._buckets: dict[int, _Bucket] = {}
        self.in_flight = 0
        # A request nobody announced (a custom locustfile) is offered when it completes -- unless its task was
        # paced by the rate gate, which counted the task as offered when it took its token (`offered`).
        self.offer_unannounced = True

    def _bucket(self, t: float) -> _Bucket:
        sec = max(int(t), self._next)     # anything late lands in the oldest second still open
        b = self._buckets.get(sec)
        if b is None:
            b = self._buckets[sec] = _Bucket()
        return b

    def started(self, t: float) -> None:
        self._bucket(t).started += 1
        self.in_flight += 1

    def offered(self, t: float) -> None:
        """One operation started whose requests will not announce it (a paced task of a custom locustfile)."""
        self._bucket(t).started += 1

    def dropped(self, t: float, n: int = 1) -> None:
        """Operations the profile asked for that could not start: every user of the pool was busy."""
        self._bucket(t).dropped += n

    def exception(self, t: float) -> None:
        """An exception escaped a user's task (a bug in the locustfile, not an outcome of the system)."""
        self._bucket(t).exceptions += 1

    def completed(self, t: float, outcome: str, latency_ms: float, counted_start: bool = True) -> None:
        b = self._bucket(t)
        if outcome == "ok":
            b.ok += 1
        elif outcome == "fail":
            b.fail += 1
        else:
            b.info += 1
        b.latencies.append(latency_ms)
        if counted_start:
            self.in_flight = max(0, self.in_flight - 1)
        elif self.offer_unannounced:  # a request nobody announced (a custom locustfile): offered at completion
            b.started += 1

    def due_lines(self, now: float, users: int, cpu_percent: float | None,
                  target_rate: Callable[[float], float | None] = lambda t: None,
                  grace: float = 0.25, final: bool = False) -> list[dict]:
        """Lines for every second that ended at least `grace` ago (all open seconds when `final`)."""
        last = int(now) if final else int(now - grace) - 1
        lines = []
        while self._next <= last:
            sec = self._next
            b = self._buckets.pop(sec, None) or _Bucket()
            lat = sorted(b.latencies)
            target = target_rate(sec + 0.5)
            lines.append({
                "t": float(sec), "worker": self.worker,
                "requests": b.ok + b.fail + b.info, "ok": b.ok, "fail": b.fail, "info": b.info,
                "p50_ms": _ms(percentile(lat, 50)), "p99_ms": _ms(percentile(lat, 99)),
                "offered_rate": float(b.started), "target_rate": None if target is None else round(target, 3),
                "users": users, "cpu_percent": cpu_percent, "dropped": b.dropped, "in_flight": self.in_flight,
                "exceptions": b.exceptions,
            })
            self._next += 1
        return lines


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
