"""The open-model arrival gate: operations are released at the target rate whatever the system does.

A closed-loop user waits for its answer before starting the next operation, so a stalled system silently
receives less load and looks healthier than it is (coordinated omission). Here a scheduler greenlet
releases tokens at the target rate; each token starts one operation on an idle user of the pool. A token
that finds every user busy is not queued (that would turn into a burst later) but counted as dropped:
the generator could not offer the load, which the checks see in stats.jsonl. Locust side only (gevent).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent
from gevent.queue import Queue

MIN_SLEEP_S = 0.002
MAX_SLEEP_S = 0.05


class RateGate:
    """`rate(t)` is this process's target in operations/s, t seconds after `start()`."""

    def __init__(self, rate: Callable[[float], float], on_drop: Callable[[int], None] = lambda n: None) -> None:
        self._rate = rate
        self._on_drop = on_drop
        self._queue: Queue = Queue()
        self._idle = 0
        self._closed = False
        self._greenlet: gevent.Greenlet | None = None
        self.released = 0
        self.dropped = 0

    @property
    def idle(self) -> int:
        """Users waiting for a token that no token is on its way to."""
        return self._idle - self._queue.qsize()

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def acquire(self) -> bool:
        """Block until this user may start one operation; False once the gate is closed (stopping)."""
        if self._closed:
            return False
        self._idle += 1
        try:
            token = self._queue.get()
        finally:
            self._idle -= 1
        return token is not None

    def close(self) -> None:
        """Stop releasing and wake every waiting user (their acquire returns False)."""
        self._closed = True
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        for _ in range(self._idle):
            self._queue.put(None)

    def _run(self) -> None:
        t0 = last = time.monotonic()
        due = 0.0
        while not self._closed:
            now = time.monotonic()
            rate = max(0.0, float(self._rate(now - t0) or 0.0))
            due += rate * (now - last)
            last = now
            while due >= 1.0:
                due -= 1.0
                if self.idle > 0:
                    self._queue.put(True)
                    self.released += 1
                else:
                    self.dropped += 1
                    self._on_drop(1)
            wait = (1.0 - due) / rate if rate > 0 else MAX_SLEEP_S
            gevent.sleep(min(MAX_SLEEP_S, max(MIN_SLEEP_S, wait)))
