"""Closed-loop purchases through HAProxy, shared by the benchmarks that need a throughput number
(bench: sustained purchases/s; bench.alerts: the same with and without monitoring; bench.cpu: where the
CPU of those purchases goes)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

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


def buyers_for(base_url: str, workers: int) -> list[tuple[str, int]]:
    """One logged-in buyer per closed-loop client (registration is scrypt work: keep it out of a measurement)."""
    from drills.platform.ticketing import TicketingClient

    api = TicketingClient(base_url)
    return [buyer(api) for _ in range(workers)]


def measure(base_url: str, seconds: float, workers: int, buyers: list[tuple[str, int]] | None = None) -> Throughput:
    """`workers` clients, each buying one seat after the other for `seconds` (closed loop)."""
    from drills.platform.ticketing import TicketingClient

    buyers = buyers or buyers_for(base_url, workers)
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


#: Closed-loop clients: "requests" (a requests.Session per thread, what the drills' own client does) or "asyncio"
#: (raw keep-alive HTTP/1.1 on one event loop: a few tens of microseconds of CPU per purchase, so the generator
#: takes little of the machine it shares with the stack it measures).
CLIENTS = ("requests", "asyncio")


def measure_with(client: str, base_url: str, seconds: float, workers: int,
                 buyers: list[tuple[str, int]] | None = None) -> Throughput:
    """`measure` with the chosen client kind (see CLIENTS); `buyers` as from `buyers_for` (default: made here)."""
    if client == "asyncio":
        return measure_async(base_url, seconds, workers, buyers)
    if client == "requests":
        return measure(base_url, seconds, workers, buyers)
    raise ValueError(f"unknown client {client!r} (choose from {', '.join(CLIENTS)})")


def measure_async(base_url: str, seconds: float, workers: int,
                  buyers: list[tuple[str, int]] | None = None) -> Throughput:
    """`workers` closed-loop buyers on one asyncio loop, each on its own keep-alive connection: the same
    purchases as `measure`, at a fraction of the generator CPU (no requests, no threads)."""
    buyers = buyers or buyers_for(base_url, workers)
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    result = Throughput(seconds, workers)

    async def run(token: str, event: int) -> None:
        stop = time.monotonic() + seconds
        body = b'{"quantity":1}'
        head = (f"POST /events/{event}/purchases HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n").encode()
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                if conn is None:
                    conn = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
                reader, writer = conn
                writer.write(head + b"Idempotency-Key: " + uuid.uuid4().hex.encode() + b"\r\n\r\n" + body)
                status, keep = await asyncio.wait_for(_read_response(reader), 10)
                ok = status in (200, 201)
                if not keep:
                    writer.close()
                    conn = None
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                ok = False
                if conn is not None:
                    conn[1].close()
                conn = None
            dt = time.perf_counter() - t0
            if ok:
                result.ok += 1
                result.latencies.append(dt * 1000)
            else:
                result.other += 1
        if conn is not None:
            conn[1].close()

    async def main() -> None:
        await asyncio.gather(*(run(token, event) for token, event in buyers))

    asyncio.run(main())
    return result


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status code of one HTTP/1.1 response (body read and dropped), and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    if length:
        await reader.readexactly(length)
    return status, keep
