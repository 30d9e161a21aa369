"""Load-generator benchmarks. Prints numbers, asserts nothing.

  generator   operations/s one Locust worker sustains against a trivial local server (so the generator,
              not the server, is the limit), with history recording and without it, side by side in the
              same run; the ratio is the cost of the history (aim: >= 0.9). Bare Locust is shown too.
  purchases   the highest purchase rate this machine drives into the reference stack: arrival-rate steps
              (open model) of purchases only, with achieved rate, p50/p99 and dropped per step

    python -m bench.load [generator] [purchases] [--api-url URL | --stack NAME] [--seconds S]

Without --api-url, `purchases` starts its own stack (`--stack`, default loadbench) with a large hot event
so the steps never sell out, and removes it afterwards.

`--quick`: one 1 s generator round with 2 users (it needs no Docker: it runs for real), and two short
purchase steps after a pass of the purchase table over a synthetic history. `--offline`: skip what needs
the stack (what the unit suite runs: `--quick --offline`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import psutil

from bench.common import add_modes, fail, offline_done, synthetic
from drills.errors import DrillError
from drills.load.config import LoadConfig
from drills.load.locust_side.stats import percentile
from drills.load.runner import LoadHandle, check_config, start_load
from drills.rundir.tolerant import read_complete as read_jsonl
from drills.scenario.model import LoadProfile, LoadSection, Phases, Stage

PROG = "python -m bench.load"
WHAT = ("generator", "purchases")
_BODY = b'{"order_id":1,"event_id":1,"seats":[1,2],"ticket_ids":[1,2]}'
_RESPONSE = (b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Replica: bench\r\n"
             b"Content-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY))
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.I)

GENERATOR_LOCUSTFILE = '''
import itertools
from locust import FastHttpUser, constant, task
from drills.load.locust_side.plugin import runtime

N = itertools.count()


class Buyer(FastHttpUser):
    wait_time = constant(0)
    max_retries = 0

    @task
    def buy(self):
        key = f"k{next(N)}"
        ctx = {"op": "purchase", "user": "u-1", "key": key, "attempt": 1, "event_id": 1, "seats": None,
               "quantity": 2}
        recorder = runtime(self.environment).recorder
        if recorder is not None:
            recorder.begin(ctx)
        self.client.post("/events/1/purchases", json={"quantity": 2}, name="/events/{id}/purchases",
                         headers={"Idempotency-Key": key, "Authorization": "Bearer t"}, context=ctx)
'''


class _Canned(asyncio.Protocol):
    """Answers every HTTP/1.1 request on the connection with the same 201 (keep-alive, pipelining-safe)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            m = _LENGTH.search(self.buf[:end])
            need = end + 4 + (int(m.group(1)) if m else 0)
            if len(self.buf) < need:
                return
            self.buf = self.buf[need:]
            self.transport.write(_RESPONSE)


def _serve(port_queue: multiprocessing.Queue) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Canned, "127.0.0.1", 0, backlog=1024)
        port_queue.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def _locust_rate(run_dir: Path) -> float:
    """Requests per second from Locust's own summary (the same measure in every mode)."""
    entries = json.loads((run_dir / "load" / "locust-summary.json").read_text())
    total = sum(e["num_requests"] for e in entries)
    span = max(e["last_request_timestamp"] or 0 for e in entries) - min(e["start_time"] for e in entries)
    return total / span if span > 0 else 0.0


def _cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


MODES = {"history": (True, True), "stats only": (False, True), "bare locust": (False, False)}


def _start_modes(handles: dict[str, tuple[Path, LoadHandle]], load: LoadSection, url: str, tmp: Path, i: int,
                 seconds: float) -> None:
    """Start the Locust process of every mode, all at once (each start imports the locustfile in a process
    of its own first: seconds of CPU that need not queue). What started is in `handles` even on an error."""
    def start(mode: str) -> tuple[Path, LoadHandle]:
        history, stats = MODES[mode]
        run_dir = tmp / f"run-{i}-{mode.replace(' ', '_')}"
        return run_dir, start_load(load, Phases(warmup=0, steady=seconds + 10, recovery=0), url, run_dir, "bench",
                                   1, tmp, history=history, stats=stats)

    with ThreadPoolExecutor(len(MODES)) as pool:
        futures = {mode: pool.submit(start, mode) for mode in MODES}
    errors = []
    for mode, fut in futures.items():
        try:
            handles[mode] = fut.result()
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def bench_generator(seconds: float = 8.0, rounds: int = 3, users: int = 10, settle_s: float = 1.0) -> dict:
    """The three modes run side by side in each round, so they share whatever else the machine is doing:
    history + stats (a drill), stats only (history off: the comparison the ratio is about) and bare Locust
    (nothing of ours). Each is one Locust process at full speed against the same trivial server; the
    CPU share each gets varies, so capacity is measured in operations per CPU-second of that process
    (what one worker sustains on a core of its own). `settle_s`: how long they run before the measure."""
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = ctx.Queue()
    server = ctx.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    wall: dict[str, list[float]] = {m: [] for m in MODES}
    capacity: dict[str, list[float]] = {m: [] for m in MODES}
    try:
        url = f"http://127.0.0.1:{ports.get(timeout=10)}"
        with tempfile.TemporaryDirectory(prefix="drills-bench-") as tmp:
            (Path(tmp) / "gen_locustfile.py").write_text(GENERATOR_LOCUSTFILE)
            load = LoadSection(locustfile="gen_locustfile.py",
                               profile=LoadProfile(type="constant_users", users=users, spawn_rate=100))
            for i in range(rounds):
                handles: dict[str, tuple[Path, LoadHandle]] = {}
                try:
                    _start_modes(handles, load, url, Path(tmp), i, seconds)
                    for _, handle in handles.values():
                        handle.wait_started(30)
                    time.sleep(settle_s)
                    pids = {m: h.primary.popen.pid for m, (_, h) in handles.items()}
                    c0, t0 = {m: _cpu_seconds(pid) for m, pid in pids.items()}, time.monotonic()
                    time.sleep(seconds)
                    elapsed = time.monotonic() - t0
                    cpu = {m: (_cpu_seconds(pid) - c0[m]) / elapsed for m, pid in pids.items()}
                finally:
                    with ThreadPoolExecutor(len(MODES)) as pool:
                        list(pool.map(lambda h: h[1].stop(timeout=20), handles.values()))
                for mode, (run_dir, _) in handles.items():
                    rate = _locust_rate(run_dir)
                    wall[mode].append(rate)
                    capacity[mode].append(rate / cpu[mode])
                    lines = len(read_jsonl(run_dir / "history.jsonl").records) if MODES[mode][0] else 0
                    print(f"  round {i + 1} {mode:12s} {rate:6.0f} ops/s at {100 * cpu[mode]:3.0f}% cpu = "
                          f"{rate / cpu[mode]:6.0f} ops per cpu-second"
                          + (f"  ({lines} history lines)" if lines else ""))
    finally:
        server.kill()
        server.join(5)
    med = {m: statistics.median(v) for m, v in capacity.items()}
    ratios = [h / s for h, s in zip(capacity["history"], capacity["stats only"], strict=False)]
    print(f"load.generator_ops_s_with_history     {med['history']:8.0f}   (ops per cpu-second = one worker on its "
          f"own core)")
    print(f"load.generator_ops_s_without_history  {med['stats only']:8.0f}   (stats.jsonl still written)")
    print(f"load.generator_history_ratio          {statistics.median(ratios):8.2f}   (aim >= 0.9; median of "
          f"{', '.join(f'{r:.2f}' for r in ratios)}; {users} users per worker)")
    print(f"load.generator_ops_s_bare_locust      {med['bare locust']:8.0f}   (nothing of ours; all recording ratio "
          f"{med['history'] / med['bare locust']:.2f})")
    return {"with_history": med["history"], "without_history": med["stats only"], "bare": med["bare locust"],
            "ratio": statistics.median(ratios), "ratio_bare": med["history"] / med["bare locust"]}


@dataclass(frozen=True)
class Steps:
    """The purchase benchmark's arrival-rate steps, after a warmup in which the users register."""

    rates: tuple[int, ...] = (25, 50, 100, 150, 200, 250, 300, 350)
    step_s: float = 8.0
    warmup_rate: float = 10.0
    warmup_s: float = 25.0
    max_users: int = 100


QUICK_STEPS = Steps(rates=(5, 10), step_s=3.0, warmup_rate=2.0, warmup_s=5.0, max_users=10)


def bench_purchases(api_url: str, steps: Steps | None = None) -> dict:
    """Arrival-rate steps of purchases only (best-available quantities, so no seat contention). The users
    register during the warmup (scrypt: the costly part of the start). A step counts as sustained when at
    least 95% of its target is acknowledged and no operation had to be dropped for lack of a free user."""
    steps = steps or Steps()
    load, phases = purchase_load(steps)
    with tempfile.TemporaryDirectory(prefix="drills-bench-") as tmp:
        run_dir = Path(tmp)
        handle = start_load(load, phases, api_url, run_dir, secrets.token_hex(8), 1)
        try:
            handle.wait_started(60)
            start = json.loads((run_dir / "load" / "started-w0.json").read_text())["t"]
            time.sleep(phases.total + 1)
        finally:
            handle.stop(timeout=30)
        history = [r for r in read_jsonl(run_dir / "history.jsonl").records if r["op"] == "purchase"]
        stats = read_jsonl(run_dir / "stats.jsonl").records
    text, best = purchase_table(history, stats, start, steps.rates, steps.step_s, steps.warmup_s)
    print(text, flush=True)
    return best


def purchase_load(steps: Steps) -> tuple[LoadSection, Phases]:
    """The load section of the purchase steps, and the phases that hold them."""
    stages = [Stage(duration=steps.warmup_s, rate=steps.warmup_rate)] + \
        [Stage(duration=steps.step_s, rate=r) for r in steps.rates]
    load = LoadSection(profile=LoadProfile(type="stages", stages=stages, max_users=steps.max_users, spawn_rate=10),
                       mix={"purchase": 100}, hot_share=0.0, request_timeout=5.0, max_retries=0)
    return load, Phases(warmup=0, steady=steps.warmup_s + steps.step_s * len(steps.rates), recovery=0)


def check_purchase_load(steps: Steps) -> None:
    """What start_load checks before it starts anything (the profile, the mix): no stack needed."""
    load, phases = purchase_load(steps)
    with tempfile.TemporaryDirectory(prefix="drills-bench-") as tmp:
        check_config(LoadConfig.from_section(load, phases, "http://127.0.0.1:9", Path(tmp), 1))


def purchase_table(history: list[dict], stats: list[dict], start: float, rates: Sequence[int], step_s: float,
                   warmup_s: float) -> tuple[str, dict]:
    """Per step: achieved ok/fail/info rates, p50/p99, dropped and generator CPU; and the best sustained step."""
    lines = [f"  {'target/s':>9} {'ok/s':>8} {'fail/s':>7} {'info/s':>7} {'p50 ms':>8} {'p99 ms':>8} "
             f"{'dropped':>8} {'gen cpu%':>8}"]
    best: dict = {}
    for i, rate in enumerate(rates):
        t0 = start + warmup_s + i * step_s + 1.0  # skip the first second of a step (transition)
        t1 = start + warmup_s + (i + 1) * step_s
        ops = [r for r in history if t0 <= r["invoke"] < t1]
        lat = sorted((r["complete"] - r["invoke"]) * 1000 for r in ops)
        by = {o: sum(1 for r in ops if r["outcome"] == o) / (t1 - t0) for o in ("ok", "fail", "info")}
        secs = [s for s in stats if t0 <= s["t"] < t1]
        dropped = sum(s.get("dropped", 0) for s in secs)
        cpu = max((s.get("cpu_percent") or 0 for s in secs), default=0)
        p50, p99 = percentile(lat, 50) or 0.0, percentile(lat, 99) or 0.0
        lines.append(f"  {rate:9d} {by['ok']:8.1f} {by['fail']:7.1f} {by['info']:7.1f} {p50:8.1f} {p99:8.1f} "
                     f"{dropped:8d} {cpu:8.0f}")
        if by["ok"] >= 0.95 * rate and dropped == 0:
            best = {"rate": rate, "ok_per_s": by["ok"], "p50_ms": p50, "p99_ms": p99}
    if best:
        lines.append(f"load.max_purchase_rate_s             {best['ok_per_s']:8.1f}   "
                     f"(step {best['rate']}/s sustained, p50 {best['p50_ms']:.0f} ms, p99 {best['p99_ms']:.0f} ms)")
    else:
        lines.append("load.max_purchase_rate_s                  n/a   (not even the lowest step was sustained)")
    return "\n".join(lines), best


def synthetic_purchases(rates: Sequence[int], step_s: float, warmup_s: float, start: float = 1_764_150_000.0,
                        seed: int = 1) -> tuple[list[dict], list[dict]]:
    """A history and stats.jsonl as a purchase-steps run would write them; the last step falls short."""
    rng = random.Random(seed)
    history, stats = [], []
    for i, rate in enumerate(rates):
        t0 = start + warmup_s + i * step_s
        achieved = rate if i < len(rates) - 1 else rate * 0.8
        for k in range(int(achieved * step_s)):
            invoke = t0 + k / achieved
            outcome = "ok" if rng.random() < 0.99 else rng.choice(["fail", "info"])
            history.append({"op": "purchase", "invoke": invoke, "complete": invoke + rng.lognormvariate(-3.5, 0.4),
                            "outcome": outcome})
        for sec in range(int(step_s)):
            stats.append({"t": t0 + sec + 0.5, "worker": "w0", "dropped": 0 if i < len(rates) - 1 else 3,
                          "cpu_percent": min(100.0, 10 + rate / 4)})
    return history, stats


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    # no `choices=`: with nargs="*" Python 3.11's argparse checks the whole default list against them and
    # rejects a command line without a positional argument (so `make bench`'s plain `python -m bench.load`)
    parser.add_argument("what", nargs="*", metavar="{generator,purchases}", help="default: both")
    parser.add_argument("--api-url", help="an already running reference stack (skips starting one)")
    parser.add_argument("--stack", default="loadbench", help="name of the stack to start when no --api-url")
    parser.add_argument("--seconds", type=float, default=None,
                        help="length of each generator round (default 8; --quick 1)")
    parser.add_argument("--rounds", type=int, default=None, help="generator rounds (default 3; --quick 1)")
    parser.add_argument("--users", type=int, default=None, help="users per generator process (default 10; --quick 2)")
    add_modes(parser)
    args = parser.parse_args(argv)
    args.what = args.what or list(WHAT)
    if unknown := sorted(set(args.what) - set(WHAT)):
        parser.error(f"unknown {', '.join(unknown)} (choose from {', '.join(WHAT)})")
    seconds = args.seconds if args.seconds is not None else (1.0 if args.quick else 8.0)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    users = args.users if args.users is not None else (2 if args.quick else 10)
    if seconds <= 0 or rounds < 1 or users < 1:
        parser.error("--seconds, --rounds and --users must be positive")
    steps = QUICK_STEPS if args.quick else Steps()
    try:
        if "generator" in args.what:
            bench_generator(seconds=seconds, rounds=rounds, users=users, settle_s=0.5 if args.quick else 1.0)
        if "purchases" in args.what:
            if args.quick or args.offline:
                check_purchase_load(steps)
                history, stats = synthetic_purchases(steps.rates, steps.step_s, steps.warmup_s)
                synthetic(purchase_table(history, stats, 1_764_150_000.0, steps.rates, steps.step_s,
                                         steps.warmup_s)[0])
            if args.offline:
                return offline_done(PROG)
            if args.api_url:
                bench_purchases(args.api_url, steps)
                return 0
            purchases_on_own_stack(args.stack, steps)
    except DrillError as exc:
        return fail(PROG, exc)
    return 0


def purchases_on_own_stack(name: str, steps: Steps) -> None:
    from drills.platform import engine
    from drills.platform.stack import Stack
    from drills.platform.stack_spec import StackOptions

    stack = Stack(engine.connect(), name)
    try:
        status = stack.up(StackOptions(name=name, hot_event_seats=500000), log=lambda m: None)
        bench_purchases(status.endpoints["api"], steps)
    finally:
        stack.down(log=lambda m: None)


if __name__ == "__main__":
    sys.exit(main())
