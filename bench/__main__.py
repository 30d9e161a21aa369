"""`make bench`: numbers for the reference stack. Prints, asserts nothing.

  build      cold image build (every image rebuilt, base kept) and a warm no-op build
  up         warm `drill stack up` to healthy
  failover   leader SIGKILL to first successful purchase (several rounds)
  throughput sustained purchases/s through HAProxy, with p50/p99 latency

`--quick`: no cold rebuild (the warm build only), one failover round and a few seconds of throughput with
two clients, after a pass of every line over synthetic data. `--offline`: only that synthetic pass (no
Docker needed; what the unit suite runs).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Sequence

import requests

from bench.common import add_modes, add_only, chosen_parts, fail, offline_done, synthetic
from bench.purchases import buyer, measure
from drills.errors import DrillError, StackError
from drills.platform.images import STACK_IMAGES, BuildResult

PROG = "python -m bench"
STACK = "bench"
PARTS = ("build", "up", "failover", "throughput")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def fmt_build_cold(seconds: float, results: list[BuildResult]) -> str:
    per = ", ".join(f"{r.key} {r.seconds:.0f}s" for r in results)
    return f"build.cold_s        {seconds:8.1f}   ({per}; base image kept)"


def fmt_build_warm(seconds: float, results: list[BuildResult]) -> str:
    return f"build.warm_noop_s   {seconds:8.1f}   ({sum(r.action == 'cached' for r in results)} cached)"


def fmt_up(seconds: float) -> str:
    return f"stack.up_healthy_s  {seconds:8.1f}   (warm images, from nothing to healthy)"


def fmt_failover(times: list[float]) -> str:
    return (f"failover.kill_to_first_purchase_s  median {statistics.median(times):.1f}  "
            f"min {min(times):.1f}  max {max(times):.1f}  (n={len(times)})")


def fmt_throughput(outcomes: dict[str, int], latencies: list[float], seconds: float, workers: int) -> str:
    return (f"throughput.purchases_per_s  {outcomes['ok'] / seconds:8.1f}   "
            f"p50 {pct(latencies, 50):.0f} ms  p99 {pct(latencies, 99):.0f} ms  "
            f"({workers} closed-loop clients, {seconds:.0f}s, {outcomes['other']} not ok)")


def bench_build(client, cold: bool = True) -> None:
    from drills.platform import images

    if cold:
        t0 = time.monotonic()
        results = images.build_all(client, log=lambda m: None, force=True)
        print(fmt_build_cold(time.monotonic() - t0, results), flush=True)
    else:
        print("build.cold_s        skipped (--quick: no forced rebuild)", flush=True)
    t0 = time.monotonic()
    results = images.build_all(client, log=lambda m: None)
    print(fmt_build_warm(time.monotonic() - t0, results), flush=True)


def bench_up(client):
    from drills.platform.stack import Stack
    from drills.platform.stack_spec import StackOptions

    stack = Stack(client, STACK)
    if stack.exists():
        stack.down(log=lambda m: None)
    t0 = time.monotonic()
    stack.up(StackOptions(name=STACK), log=lambda m: None)
    print(fmt_up(time.monotonic() - t0), flush=True)
    return stack


def bench_failover(client, stack, rounds: int) -> None:
    from drills.platform.stack import container_name
    from drills.platform.ticketing import TicketingClient

    times = []
    for _ in range(rounds):
        status = stack.status()
        api = TicketingClient(status.endpoints["api"], timeout=3)
        token, event = buyer(api)
        leader = status.leader()
        if leader is None:
            raise StackError(f"stack {STACK}: no single Patroni leader to kill", hint="`drill stack status`")
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
    print(fmt_failover(times), flush=True)


def bench_throughput(stack, seconds: float, workers: int) -> None:
    seen = measure(stack.status().endpoints["api"], seconds, workers)
    print(fmt_throughput({"ok": seen.ok, "other": seen.other}, seen.latencies, seconds, workers), flush=True)


def self_check(only: set[str], rounds: int, seconds: float, workers: int, seed: int = 1) -> None:
    """Every line the benchmark prints, from synthetic numbers (no Docker): the code runs, nothing is measured."""
    rng = random.Random(seed)
    if "build" in only:
        built = [BuildResult(k, f"drills/{k}:latest", "built", rng.uniform(5, 60)) for k in STACK_IMAGES]
        cached = [BuildResult(k, f"drills/{k}:latest", "cached", 0.1) for k in STACK_IMAGES]
        synthetic(fmt_build_cold(sum(r.seconds for r in built), built))
        synthetic(fmt_build_warm(sum(r.seconds for r in cached), cached))
    if only & {"up", "failover", "throughput"}:
        synthetic(fmt_up(rng.uniform(30, 60)))
    if "throughput" in only:
        lat = [rng.lognormvariate(3.0, 0.5) for _ in range(int(200 * seconds))]
        synthetic(fmt_throughput({"ok": len(lat), "other": rng.randrange(5)}, lat, seconds, workers))
    if "failover" in only:
        synthetic(fmt_failover([rng.uniform(5, 15) for _ in range(rounds)]))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add_only(p, PARTS)
    p.add_argument("--rounds", type=int, default=None, help="failover rounds (default 3; --quick 1)")
    p.add_argument("--seconds", type=float, default=None, help="throughput duration (default 30; --quick 3)")
    p.add_argument("--workers", type=int, default=None, help="throughput clients (default 32; --quick 2)")
    p.add_argument("--keep", action="store_true", help="keep the bench stack")
    add_modes(p)
    args = p.parse_args(argv)
    args.only = chosen_parts(p, args.only, PARTS)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    args.seconds = args.seconds if args.seconds is not None else (3.0 if args.quick else 30.0)
    args.workers = args.workers if args.workers is not None else (2 if args.quick else 32)
    if args.rounds < 1 or args.seconds <= 0 or args.workers < 1:
        p.error("--rounds, --seconds and --workers must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    only: set[str] = args.only
    if args.quick or args.offline:
        self_check(only, args.rounds, args.seconds, args.workers)
    if args.offline:
        return offline_done(PROG)
    from drills.platform import engine

    stack = None
    try:
        client = engine.connect(timeout=600)
        if "build" in only:
            bench_build(client, cold=not args.quick)
        if only & {"up", "failover", "throughput"}:
            stack = bench_up(client)
        if "throughput" in only:
            bench_throughput(stack, args.seconds, args.workers)
        if "failover" in only:
            bench_failover(client, stack, args.rounds)
    except DrillError as exc:
        return fail(PROG, exc)
    finally:
        if stack is not None and not args.keep:
            stack.down(log=lambda m: None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
