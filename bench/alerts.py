"""`python -m bench.alerts`: how fast the alerting pipeline pages, and what monitoring costs (issue 16).

  page      leader SIGKILL -> the PatroniNoLeader *firing* notification at the drill's receiver (time to fire),
            and the first acknowledged purchase after the kill (the recovery) -> its *resolved* notification
            (time to resolve; negative when it resolved before that purchase: the alert follows the database
            leader, a purchase also needs the API's pool to reconnect); median and max over N kills (default 5).
            Aim: both within 15 s.
  cost      sustained purchases/s with the monitoring containers running and with them stopped, alternated
            (with, without, with, without, ...) on one stack so drift hits both sides alike; the ratio
            with/without. Aim: >= 0.95. The API's own /metrics instrumentation stays on in both (it is part of
            the API); what is switched off is scraping, rule evaluation and notification.

Times are on the harness's wall clock: the receiver stamps a notification when it arrives, the same clock
as the kill (one machine). `--quick`: one kill and 3-second throughput rounds, after a pass of every line over
synthetic data; `--offline`: only that pass (no Docker; what the unit suite runs).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.common import add_modes, add_only, chosen_parts, fail, offline_done, own_stack, synthetic
from bench.purchases import buyer, measure
from drills.errors import DrillError, StackError

PROG = "python -m bench.alerts"
STACK = "bench-alerts"
ALERT = "PatroniNoLeader"
PARTS = ("page", "cost")
WAIT_S = 120.0


@dataclass(frozen=True)
class Page:
    """One kill: seconds from the kill to the firing notification, and from the recovery to the resolved one
    (None: it never came within WAIT_S)."""

    fire_s: float | None
    resolve_s: float | None
    recovery_s: float


def fmt_page(pages: list[Page]) -> list[str]:
    def line(label: str, values: list[float | None], aim: str) -> str:
        got = [v for v in values if v is not None]
        missing = len(values) - len(got)
        if not got:
            return f"{label:<24} none arrived within {WAIT_S:.0f}s (n={len(values)})"
        return (f"{label:<24} median {statistics.median(got):5.1f}  max {max(got):5.1f}  (n={len(got)}"
                + (f", {missing} never arrived" if missing else "") + f"; aim {aim})")

    return [line("alerts.time_to_fire_s", [p.fire_s for p in pages], "<= 15 s from the kill"),
            line("alerts.time_to_resolve_s", [p.resolve_s for p in pages], "<= 15 s from the recovery"),
            f"{'alerts.kill_to_recovery_s':<24} median {statistics.median(p.recovery_s for p in pages):5.1f}  "
            f"(first acknowledged purchase after the kill)"]


def fmt_cost(with_mon: list[float], without: list[float], seconds: float, workers: int) -> str:
    w, wo = statistics.median(with_mon), statistics.median(without)
    return (f"alerts.monitoring_cost  with {w:7.1f}/s  without {wo:7.1f}/s  ratio {w / wo:.3f}  "
            f"(median of {len(with_mon)} alternated rounds of {seconds:.0f}s, {workers} clients; aim >= 0.95)")


def notifications(path: Path, alert: str, since: float) -> tuple[float | None, float | None]:
    """The first firing notification of `alert` at or after `since`, and the first resolved one after it."""
    from drills.rundir.tolerant import Problems, iter_jsonl

    fired = resolved = None
    if not path.exists():
        return None, None
    for ln in iter_jsonl(path, Problems()):
        if ln.get("kind") != "notification" or ln.get("alertname") != alert or ln.get("t", 0) < since:
            continue
        if fired is None and ln.get("status") == "firing":
            fired = ln["t"]
        elif fired is not None and ln.get("status") == "resolved":
            resolved = ln["t"]
            break
    return fired, resolved


def one_kill(client, stack, api, token: str, event: int, workdir: Path) -> Page:
    from drills.platform.alert_watch import AlertWatch
    from drills.platform.stack import container_name, settle_alerts

    status = stack.status()
    settle_alerts(status, log=lambda m: print(f"  {m}", flush=True), timeout=60)
    leader = status.leader()
    if leader is None:
        raise StackError(f"stack {STACK}: no single Patroni leader to kill", hint="`drill stack status`")
    endpoints = stack.monitoring_endpoints()
    if endpoints is None or not endpoints.receiver:
        raise StackError(f"stack {STACK} has no monitoring", hint="it is started with monitoring on")
    watch = AlertWatch(endpoints, workdir, poll_s=0.2).start()
    try:
        victim = client.containers.get(container_name(STACK, leader))
        killed = time.time()
        victim.kill(signal="SIGKILL")
        recovered = None
        while time.time() - killed < WAIT_S:
            try:
                if api.purchase(token, event, quantity=1).ok:
                    recovered = time.time()
                    break
            except requests.RequestException:
                pass
            time.sleep(0.05)
        victim.start()
        if recovered is None:
            raise StackError(f"stack {STACK}: no purchase succeeded within {WAIT_S:.0f}s of killing {leader}")
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            fired, resolved = notifications(watch.path, ALERT, killed)
            if resolved is not None:
                break
            time.sleep(0.5)
    finally:
        watch.stop(drain_s=0.5)
    fired, resolved = notifications(watch.path, ALERT, killed)
    stack.wait_healthy(timeout=180, log=lambda _m: None)
    return Page(None if fired is None else fired - killed,
                None if resolved is None else resolved - recovered, recovered - killed)


def bench_page(client, stack, rounds: int) -> None:
    from drills.platform.ticketing import TicketingClient

    api = TicketingClient(stack.status().endpoints["api"], timeout=3)
    token, event = buyer(api)
    pages = []
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        for i in range(rounds):
            workdir = Path(tmp) / f"kill-{i + 1}"
            workdir.mkdir()
            pages.append(one_kill(client, stack, api, token, event, workdir))
            p = pages[-1]
            print(f"  kill {i + 1}: fire {p.fire_s if p.fire_s is None else round(p.fire_s, 1)} s, "
                  f"resolve {p.resolve_s if p.resolve_s is None else round(p.resolve_s, 1)} s, "
                  f"recovery {p.recovery_s:.1f} s", flush=True)
    for line in fmt_page(pages):
        print(line, flush=True)


def bench_cost(client, stack, rounds: int, seconds: float, workers: int) -> None:
    from drills.platform import monitoring
    from drills.platform.stack import container_name

    names = [container_name(STACK, s) for s in
             (monitoring.PROMETHEUS, monitoring.ALERTMANAGER, monitoring.RECEIVER, monitoring.EXPORTER)]
    containers = [client.containers.get(n) for n in names]
    base = stack.status().endpoints["api"]
    with_mon: list[float] = []
    without: list[float] = []
    try:
        for _ in range(rounds):
            with_mon.append(measure(base, seconds, workers).per_s)
            for c in containers:
                c.stop(timeout=5)
            without.append(measure(base, seconds, workers).per_s)
            for c in containers:
                c.start()
    finally:
        for c in containers:
            c.reload()
            if c.status != "running":
                c.start()
    print(fmt_cost(with_mon, without, seconds, workers), flush=True)


def self_check(rounds: int, seconds: float, workers: int, seed: int = 1) -> None:
    """Every line from synthetic numbers (no Docker): the code runs, nothing is measured."""
    rng = random.Random(seed)
    pages = [Page(rng.uniform(3, 8), rng.uniform(0.5, 3), rng.uniform(4, 12)) for _ in range(rounds)]
    pages.append(Page(None, None, 9.0))
    for line in fmt_page(pages):
        synthetic(line)
    synthetic(fmt_cost([rng.uniform(190, 200) for _ in range(rounds)],
                       [rng.uniform(195, 205) for _ in range(rounds)], seconds, workers))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add_only(p, PARTS)
    p.add_argument("--kills", type=int, default=None, help="leader kills (default 5; --quick 1)")
    p.add_argument("--rounds", type=int, default=None, help="throughput rounds per side (default 3; --quick 1)")
    p.add_argument("--seconds", type=float, default=None, help="one throughput round (default 20; --quick 3)")
    p.add_argument("--workers", type=int, default=None, help="throughput clients (default 16; --quick 2)")
    p.add_argument("--keep", action="store_true", help="keep the bench stack")
    add_modes(p)
    args = p.parse_args(argv)
    args.only = chosen_parts(p, args.only, PARTS)
    args.kills = args.kills if args.kills is not None else (1 if args.quick else 5)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    args.seconds = args.seconds if args.seconds is not None else (3.0 if args.quick else 20.0)
    args.workers = args.workers if args.workers is not None else (2 if args.quick else 16)
    if min(args.kills, args.rounds, args.workers) < 1 or args.seconds <= 0:
        p.error("--kills, --rounds, --seconds and --workers must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick or args.offline:
        self_check(args.kills, args.seconds, args.workers)
    if args.offline:
        return offline_done(PROG)
    from drills.platform import engine
    from drills.platform.stack_spec import StackOptions

    try:
        client = engine.connect(timeout=600)
        with own_stack(client, StackOptions(name=STACK, monitoring=True), "with monitoring", keep=args.keep) as stack:
            if "cost" in args.only:
                bench_cost(client, stack, args.rounds, args.seconds, args.workers)
            if "page" in args.only:
                bench_page(client, stack, args.kills)
    except DrillError as exc:
        return fail(PROG, exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
