"""Load-generator benchmarks. Prints numbers, asserts nothing.

  generator   operations/s one Locust worker sustains against a trivial local server (so the generator,
              not the server, is the limit), with history recording and without it, side by side in the
              same run; the ratio is the cost of the history (aim: >= 0.9). Bare Locust is shown too.
  purchases   the highest purchase rate this machine drives into the reference stack: arrival-rate steps
              (open model) of purchases only, with achieved rate, p50/p99 and dropped per step

    python -m bench.load [generator] [purchases] [--api-url URL | --stack NAME] [--seconds S]

Without --api-url, `purchases` starts its own stack (`--stack`, default loadbench) with a large hot event
so the steps never sell out, and removes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import re
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from drills.load.jsonl import read_jsonl
from drills.load.runner import start_load
from drills.load.stats import percentile
from drills.scenario.model import LoadProfile, LoadSection, Phases, Stage

_BODY = b'{"order_id":1,"event_id":1,"seats":[1,2],"ticket_ids":[1,2]}'
_RESPONSE = (b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Replica: bench\r\n"
             b"Content-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY))
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.I)

GENERATOR_LOCUSTFILE = '''
import itertools
from locust import FastHttpUser, constant, task
from drills.load.plugin import RUNTIME

N = itertools.count()


class Buyer(FastHttpUser):
    wait_time = constant(0)
    max_retries = 0

    @task
    def buy(self):
        key = f"k{next(N)}"
        ctx = {"op": "purchase", "user": "u-1", "key": key, "attempt": 1, "event_id": 1, "seats": None,
               "quantity": 2}
        if RUNTIME.recorder is not None:
            RUNTIME.recorder.begin(ctx)
        self.client.post("/events/1/purchases", json={"quantity": 2}, name="/events/{id}/purchases",
                         headers={"Idempotency-Key": key, "Authorization": "Bearer t"}, context=ctx)
'''


class _Canned(asyncio.Protocol):
    """Answers every HTTP/1.1 request on the connection with the same 201 (keep-alive, pipelining-safe)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            m = _LENGTH.search(self.buf[:end])
            need = end + 4 + (int(m.group(1)) if m else 0)
            if len(self.buf) < need:
                return
            self.buf = self.buf[need:]
            self.transport.write(_RESPONSE)  # type: ignore[attr-defined]


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


def bench_generator(seconds: float = 8.0, rounds: int = 3, users: int = 10) -> dict:
    """The three modes run side by side in each round, so they share whatever else the machine is doing:
    history + stats (a drill), stats only (history off: the comparison the ratio is about) and bare Locust
    (nothing of ours). Each is one Locust process at full speed against the same trivial server; the
    CPU share each gets varies, so capacity is measured in operations per CPU-second of that process
    (what one worker sustains on a core of its own)."""
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
                handles = {}
                for mode, (history, stats) in MODES.items():
                    run_dir = Path(tmp) / f"run-{i}-{mode.replace(' ', '_')}"
                    handles[mode] = (run_dir, start_load(load, Phases(warmup=0, steady=seconds + 10, recovery=0),
                                                         url, run_dir, "bench", 1, Path(tmp), history=history,
                                                         stats=stats))
                try:
                    for _, handle in handles.values():
                        handle.wait_started(30)
                    time.sleep(1.0)
                    pids = {m: h.primary.popen.pid for m, (_, h) in handles.items()}
                    c0, t0 = {m: _cpu_seconds(pid) for m, pid in pids.items()}, time.monotonic()
                    time.sleep(seconds)
                    elapsed = time.monotonic() - t0
                    cpu = {m: (_cpu_seconds(pid) - c0[m]) / elapsed for m, pid in pids.items()}
                finally:
                    for _, handle in handles.values():
                        handle.stop(timeout=20)
                for mode, (run_dir, _) in handles.items():
                    rate = _locust_rate(run_dir)
                    wall[mode].append(rate)
                    capacity[mode].append(rate / cpu[mode])
                    lines = len(read_jsonl(run_dir / "history.jsonl").records) if MODES[mode][0] else 0
                    print(f"  round {i + 1} {mode:12s} {rate:6.0f} ops/s at {100 * cpu[mode]:3.0f}% cpu = "
                          f"{rate / cpu[mode]:6.0f} ops per cpu-second" + (f"  ({lines} history lines)" if lines else ""))
    finally:
        server.kill()
        server.join(5)
    med = {m: statistics.median(v) for m, v in capacity.items()}
    ratios = [h / s for h, s in zip(capacity["history"], capacity["stats only"])]
    print(f"load.generator_ops_s_with_history     {med['history']:8.0f}   (ops per cpu-second = one worker on its "
          f"own core)")
    print(f"load.generator_ops_s_without_history  {med['stats only']:8.0f}   (stats.jsonl still written)")
    print(f"load.generator_history_ratio          {statistics.median(ratios):8.2f}   (aim >= 0.9; median of "
          f"{', '.join(f'{r:.2f}' for r in ratios)}; {users} users per worker)")
    print(f"load.generator_ops_s_bare_locust      {med['bare locust']:8.0f}   (nothing of ours; all recording ratio "
          f"{med['history'] / med['bare locust']:.2f})")
    return {"with_history": med["history"], "without_history": med["stats only"], "bare": med["bare locust"],
            "ratio": statistics.median(ratios), "ratio_bare": med["history"] / med["bare locust"]}


def bench_purchases(api_url: str, rates: tuple[int, ...] = (25, 50, 100, 150, 200, 300), step_s: float = 8.0,
                    warmup_rate: float = 10.0, warmup_s: float = 25.0, max_users: int = 100) -> dict:
    """Arrival-rate steps of purchases only (best-available quantities, so no seat contention). The users
    register during the warmup (scrypt: the costly part of the start). A step counts as sustained when at
    least 95% of its target is acknowledged and no operation had to be dropped for lack of a free user."""
    stages = [Stage(duration=warmup_s, rate=warmup_rate)] + [Stage(duration=step_s, rate=r) for r in rates]
    total = warmup_s + step_s * len(rates)
    load = LoadSection(profile=LoadProfile(type="stages", stages=stages, max_users=max_users, spawn_rate=10),
                       mix={"purchase": 100}, hot_share=0.0, request_timeout=5.0, max_retries=0)
    with tempfile.TemporaryDirectory(prefix="drills-bench-") as tmp:
        run_dir = Path(tmp)
        handle = start_load(load, Phases(warmup=0, steady=total, recovery=0), api_url, run_dir,
                            secrets.token_hex(8), 1)
        handle.wait_started(60)
        start = json.loads((run_dir / "load" / "started-w0.json").read_text())["t"]
        time.sleep(total + 1)
        handle.stop(timeout=30)
        history = [r for r in read_jsonl(run_dir / "history.jsonl").records if r["op"] == "purchase"]
        stats = read_jsonl(run_dir / "stats.jsonl").records
    best: dict = {}
    print(f"  {'target/s':>9} {'ok/s':>8} {'fail/s':>7} {'info/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'dropped':>8} {'gen cpu%':>8}")
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
        print(f"  {rate:9d} {by['ok']:8.1f} {by['fail']:7.1f} {by['info']:7.1f} {p50:8.1f} {p99:8.1f} {dropped:8d} {cpu:8.0f}")
        if by["ok"] >= 0.95 * rate and dropped == 0:
            best = {"rate": rate, "ok_per_s": by["ok"], "p50_ms": p50, "p99_ms": p99}
    if best:
        print(f"load.max_purchase_rate_s             {best['ok_per_s']:8.1f}   (step {best['rate']}/s sustained, "
              f"p50 {best['p50_ms']:.0f} ms, p99 {best['p99_ms']:.0f} ms)")
    else:
        print("load.max_purchase_rate_s                  n/a   (not even the lowest step was sustained)")
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", default=["generator", "purchases"], choices=["generator", "purchases"])
    parser.add_argument("--api-url", help="an already running reference stack (skips starting one)")
    parser.add_argument("--stack", default="loadbench", help="name of the stack to start when no --api-url")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each generator round")
    args = parser.parse_args(argv)
    if "generator" in args.what:
        bench_generator(seconds=args.seconds)
    if "purchases" in args.what:
        if args.api_url:
            bench_purchases(args.api_url)
            return
        from drills.platform import engine
        from drills.platform.stack import Stack
        from drills.platform.stack_spec import StackOptions

        stack = Stack(engine.connect(), args.stack)
        try:
            status = stack.up(StackOptions(name=args.stack, hot_event_seats=500000), log=lambda m: None)
            bench_purchases(status.endpoints["api"])
        finally:
            stack.down(log=lambda m: None)


if __name__ == "__main__":
    main()
