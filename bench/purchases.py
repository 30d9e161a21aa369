"""Closed-loop purchases through HAProxy, shared by the benchmarks that need a throughput number
(bench: sustained purchases/s; bench.alerts: the same with and without monitoring)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import requests


@dataclass
class Throughput:
    """What `measure` saw: acknowledged purchases, the rest, and the latency of each acknowledged one (ms)."""

    seconds: float
    workers: int
    ok: int = 0
    other: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else float("nan")


def buyer(api) -> tuple[str, int]:
    """A fresh user logged in, and the hot event's id: what one client needs to buy."""
    name, pw = f"bench-{uuid.uuid4().hex[:10]}", "bench password 1"
    api.register(name, pw)
    return api.login(name, pw).body["token"], api.hot_event()["id"]


def measure(base_url: str, seconds: float, workers: int) -> Throughput:
    """`workers` clients, each buying one seat after the other for `seconds` (closed loop)."""
    from drills.platform.ticketing import TicketingClient

    api = TicketingClient(base_url)
    buyers = [buyer(api) for _ in range(workers)]
    result = Throughput(seconds, workers)
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(token: str, event: int) -> None:
        c = TicketingClient(base_url, timeout=10)
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                ok = c.purchase(token, event, quantity=1).ok
            except requests.RequestException:
                ok = False
            dt = time.perf_counter() - t0
            with lock:
                if ok:
                    result.ok += 1
                    result.latencies.append(dt * 1000)
                else:
                    result.other += 1

    threads = [threading.Thread(target=run, args=b) for b in buyers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return result
