"""`make bench`: numbers for the reference stack. Prints, asserts nothing.

  build      cold image build (every image rebuilt, base kept) and a warm no-op build
  up         warm `drill stack up` to healthy
  failover   leader SIGKILL to first successful purchase (several rounds)
  throughput sustained purchases/s through HAProxy, with p50/p99 latency
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

import requests

from drills.platform import engine, images
from drills.platform.stack import Stack, container_name
from drills.platform.stack_spec import StackOptions
from drills.platform.ticketing import TicketingClient

STACK = "bench"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_build(client) -> None:
    t0 = time.monotonic()
    results = images.build_all(client, log=lambda m: None, force=True)
    cold = time.monotonic() - t0
    per = ", ".join(f"{r.key} {r.seconds:.0f}s" for r in results)
    print(f"build.cold_s        {cold:8.1f}   ({per}; base image kept)")
    t0 = time.monotonic()
    results = images.build_all(client, log=lambda m: None)
    print(f"build.warm_noop_s   {time.monotonic() - t0:8.1f}   ({sum(r.action == 'cached' for r in results)} cached)")


def bench_up(client) -> Stack:
    stack = Stack(client, STACK)
    if stack.exists():
        stack.down(log=lambda m: None)
    t0 = time.monotonic()
    stack.up(StackOptions(name=STACK), log=lambda m: None)
    print(f"stack.up_healthy_s  {time.monotonic() - t0:8.1f}   (warm images, from nothing to healthy)")
    return stack


def _buyer(api: TicketingClient) -> tuple[str, int]:
    name, pw = f"bench-{uuid.uuid4().hex[:10]}", "bench password 1"
    api.register(name, pw)
    return api.login(name, pw).body["token"], api.hot_event()["id"]


def bench_failover(client, stack: Stack, rounds: int) -> None:
    times = []
    for _ in range(rounds):
        status = stack.status()
        api = TicketingClient(status.endpoints["api"], timeout=3)
        token, event = _buyer(api)
        leader = status.leader()
        victim = client.containers.get(container_name(STACK, leader))
        victim.kill(signal="SIGKILL")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120:
            try:
                if api.purchase(token, event, quantity=1).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.05)
        times.append(time.monotonic() - t0)
        victim.start()
        stack.wait_healthy(timeout=180, log=lambda m: None)
    print(f"failover.kill_to_first_purchase_s  median {statistics.median(times):.1f}  "
          f"min {min(times):.1f}  max {max(times):.1f}  (n={len(times)})")


def bench_throughput(stack: Stack, seconds: float, workers: int) -> None:
    base = stack.status().endpoints["api"]
    api = TicketingClient(base)
    buyers = [_buyer(api) for _ in range(workers)]
    latencies: list[float] = []
    outcomes = {"ok": 0, "other": 0}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(token: str, event: int) -> None:
        c = TicketingClient(base, timeout=10)
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                ok = c.purchase(token, event, quantity=1).ok
            except requests.RequestException:
                ok = False
            dt = time.perf_counter() - t0
            with lock:
                outcomes["ok" if ok else "other"] += 1
                if ok:
                    latencies.append(dt * 1000)

    threads = [threading.Thread(target=run, args=b) for b in buyers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(f"throughput.purchases_per_s  {outcomes['ok'] / seconds:8.1f}   "
          f"p50 {pct(latencies, 50):.0f} ms  p99 {pct(latencies, 99):.0f} ms  "
          f"({workers} closed-loop clients, {seconds:.0f}s, {outcomes['other']} not ok)")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("--only", default="build,up,failover,throughput")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--workers", type=int, default=32)
    p.add_argument("--keep", action="store_true", help="keep the bench stack")
    args = p.parse_args()
    only = set(args.only.split(","))
    client = engine.connect(timeout=600)
    if "build" in only:
        bench_build(client)
    stack = None
    try:
        if only & {"up", "failover", "throughput"}:
            stack = bench_up(client)
        if "throughput" in only:
            bench_throughput(stack, args.seconds, args.workers)
        if "failover" in only:
            bench_failover(client, stack, args.rounds)
    finally:
        if stack is not None and not args.keep:
            stack.down(log=lambda m: None)


if __name__ == "__main__":
    main()
