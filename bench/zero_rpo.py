"""`python -m bench.zero_rpo`: the price of RPO 0 — purchases with and without the synchronous WAL stream into
the backup repository, and a restore with streamed WAL (issue 20).

  cost      two reference stacks side by side, one with zero-RPO backups (every acknowledgement waits for the
            WAL stream) and one without (archive only); sustained purchases/s and p50/p99 on each, alternated
            round by round (off, on, on, off, ...) so drift on a shared machine hits both sides alike.
  restore   on each stack: purchases for a few seconds, the whole cluster lost (every database node SIGKILLed
            and removed with its data, as destroy_cluster does), restored at once (the restore_cluster code
            path); restore time to a writable leader and to a healthy stack, the WAL files the stream handed to
            the archive, and how many acknowledged purchases the restore lost (archive: what archive_timeout let
            through; stream: must be 0).

Prints numbers; asserts nothing. `--quick`: one 3-second round per side and a 3-second load before each loss,
after a pass of every line over synthetic data; `--offline`: only that pass (no Docker; what the unit suite runs).
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests

from bench.common import add_modes, add_only, chosen_parts, fail, offline_done, synthetic
from bench.purchases import Throughput, buyer, measure
from drills.checks.quantiles import percentiles
from drills.errors import DrillError, StackError

if TYPE_CHECKING:
    from drills.platform.restore import RestoreResult
    from drills.platform.stack import Stack

PROG = "python -m bench.zero_rpo"
STACKS = {False: "zrpo-bench-archive", True: "zrpo-bench-stream"}   # zero_rpo_backups -> stack name
SIDE = {False: "archive", True: "stream"}
PARTS = ("cost", "restore")


@dataclass
class Side:
    """Every round of one side, pooled: acknowledged purchases, seconds measured, latencies (ms)."""

    ok: int = 0
    other: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def add(self, seen: Throughput) -> None:
        self.ok, self.other, self.seconds = self.ok + seen.ok, self.other + seen.other, self.seconds + seen.seconds
        self.latencies.extend(seen.latencies)

    @property
    def per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else float("nan")


def fmt_cost(without: Side, with_stream: Side, rounds: int, seconds: float, workers: int) -> list[str]:
    def line(label: str, side: Side) -> str:
        q = percentiles([round(v) for v in side.latencies], (50, 99))
        p50, p99 = (f"{q[k]:.0f}" if q[k] is not None else "—" for k in ("p50", "p99"))
        return (f"{label:<34} {side.per_s:7.1f}/s  p50 {p50:>5} ms  p99 {p99:>5} ms  "
                f"({side.ok} acknowledged, {side.other} not)")

    ratio = with_stream.per_s / without.per_s if without.per_s else float("nan")
    return [line("zero_rpo.purchases_without_stream", without),
            line("zero_rpo.purchases_with_stream", with_stream),
            f"{'zero_rpo.throughput_ratio':<34} {ratio:7.3f}  (with / without; {rounds} alternated rounds of "
            f"{seconds:.0f}s per side, {workers} closed-loop clients)"]


def fmt_restore(zero_rpo: bool, res: RestoreResult, acked: int, lost: int) -> str:
    label = f"zero_rpo.restore_{SIDE[zero_rpo]}"
    if not res.ok:
        return f"{label:<34} FAILED: {res.error}"

    def since(at: float | None) -> str:
        return f"{at - res.started:5.1f}" if at is not None else "  —  "

    stream = res.stream or {}
    handed = f"{stream.get('pushed', 0)} WAL file(s) handed over" if zero_rpo else "archive only"
    return (f"{label:<34} leader {since(res.leader_at)} s  healthy {since(res.healthy_at)} s  "
            f"({handed}); acknowledged purchases lost {lost} of {acked}")


# ---- on real stacks --------------------------------------------------------------------------------------------
def stacks_up(client, out: dict[bool, Stack]) -> None:
    """Both stacks, into `out` as each starts (so the caller removes what did start when the next one fails)."""
    from drills.platform.stack import Stack
    from drills.platform.stack_spec import StackOptions

    for zero_rpo in (False, True):
        stack = Stack(client, STACKS[zero_rpo])
        out[zero_rpo] = stack
        if stack.exists():
            stack.down(log=lambda _m: None)
        print(f"stack {stack.name} up ({'zero-RPO backups' if zero_rpo else 'archive-based backups'}) ...",
              flush=True)
        stack.up(StackOptions(name=stack.name, zero_rpo_backups=zero_rpo, monitoring=False),
                 log=lambda _m: None, timeout=300)


def bench_cost(stacks: dict[bool, Stack], rounds: int, seconds: float, workers: int) -> None:
    sides = {False: Side(), True: Side()}
    bases = {z: s.status().endpoints["api"] for z, s in stacks.items()}
    for i in range(rounds):
        order = (False, True) if i % 2 == 0 else (True, False)
        for zero_rpo in order:
            sides[zero_rpo].add(measure(bases[zero_rpo], seconds, workers))
    for line in fmt_cost(sides[False], sides[True], rounds, seconds, workers):
        print(line, flush=True)


def lose_and_restore(client, stack: Stack, load_s: float, workers: int) -> tuple[RestoreResult, int, int]:
    """Purchases for `load_s`, the cluster lost under them, restored; (restore, acknowledged, lost)."""
    from drills.platform import backups
    from drills.platform.restore import restore_cluster
    from drills.platform.ticketing import TicketingClient

    base = stack.status().endpoints["api"]
    buyers = [buyer(TicketingClient(base, timeout=10)) for _ in range(workers)]
    acked: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + load_s + 2.0   # the loss comes at load_s, under load

    def run(token: str, event: int) -> None:
        c = TicketingClient(base, timeout=10)
        while time.monotonic() < stop:
            try:
                r = c.purchase(token, event, quantity=1)
            except requests.RequestException:
                continue
            if r.ok:
                with lock:
                    acked.append(int(r.body["order_id"]))

    threads = [threading.Thread(target=run, args=b) for b in buyers]
    for th in threads:
        th.start()
    time.sleep(load_s)
    nodes = backups.pg_containers(stack, running=False)
    for c in nodes.values():   # SIGKILL all first, as destroy_cluster does
        c.kill(signal="SIGKILL")
    ports = {service: backups.remove_db_node(client, c)[0].get("8008/tcp") for service, c in nodes.items()}
    for th in threads:
        th.join()
    res = restore_cluster(stack, log=lambda _m: None, timeout=600,
                          patroni_ports={s: p for s, p in ports.items() if p is not None})
    if not res.ok:
        return res, len(acked), len(acked)
    code, out = backups.psql(backups.leader(stack)[1], "SELECT id FROM orders", db="ticketing")
    if code != 0:
        raise StackError(f"stack {stack.name}: the restored orders cannot be read: {out[-300:]}")
    have = {int(x) for x in out.split()}
    return res, len(acked), sum(1 for o in acked if o not in have)


def bench_restore(client, stacks: dict[bool, Stack], load_s: float, workers: int) -> None:
    for zero_rpo, stack in sorted(stacks.items()):
        res, acked, lost = lose_and_restore(client, stack, load_s, workers)
        print(fmt_restore(zero_rpo, res, acked, lost), flush=True)


def self_check(rounds: int, seconds: float, workers: int, seed: int = 1) -> None:
    """Every line from synthetic numbers (no Docker): the code runs, nothing is measured."""
    from drills.platform.restore import RestoreResult

    rng = random.Random(seed)
    sides = {}
    for zero_rpo, (rate, ms) in ((False, (30.0, 60.0)), (True, (28.0, 66.0))):
        side = Side()
        for _ in range(rounds):
            n = int(rate * seconds)
            side.add(Throughput(seconds, workers, ok=n, other=rng.randint(0, 2),
                                latencies=[rng.expovariate(1 / ms) for _ in range(n)]))
        sides[zero_rpo] = side
    for line in fmt_cost(sides[False], sides[True], rounds, seconds, workers):
        synthetic(line)
    t = 1_796_000_000.0
    for zero_rpo, lost in ((False, 17), (True, 0)):
        res = RestoreResult(ok=True, started=t, leader_at=t + rng.uniform(8, 15), healthy_at=t + rng.uniform(15, 25),
                            stream={"pushed": 3} if zero_rpo else None, finished=t + 26)
        synthetic(fmt_restore(zero_rpo, res, 300, lost))
    synthetic(fmt_restore(True, RestoreResult(ok=False, started=t, error="no backup exists"), 0, 0))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add_only(p, PARTS)
    p.add_argument("--rounds", type=int, default=None, help="throughput rounds per side (default 4; --quick 1)")
    p.add_argument("--seconds", type=float, default=None, help="one throughput round (default 15; --quick 3)")
    p.add_argument("--workers", type=int, default=None, help="closed-loop clients (default 8; --quick 2)")
    p.add_argument("--load", type=float, default=None, help="seconds of purchases before the loss (default 10; "
                                                              "--quick 3)")
    p.add_argument("--keep", action="store_true", help="keep the bench stacks")
    add_modes(p)
    args = p.parse_args(argv)
    args.only = chosen_parts(p, args.only, PARTS)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 4)
    args.seconds = args.seconds if args.seconds is not None else (3.0 if args.quick else 15.0)
    args.workers = args.workers if args.workers is not None else (2 if args.quick else 8)
    args.load = args.load if args.load is not None else (3.0 if args.quick else 10.0)
    if min(args.rounds, args.workers) < 1 or args.seconds <= 0 or args.load <= 0:
        p.error("--rounds, --seconds, --workers and --load must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick or args.offline:
        self_check(args.rounds, args.seconds, args.workers)
    if args.offline:
        return offline_done(PROG)
    from drills.platform import engine

    stacks: dict[bool, Stack] = {}
    try:
        client = engine.connect(timeout=600)
        stacks_up(client, stacks)
        if "cost" in args.only:
            bench_cost(stacks, args.rounds, args.seconds, args.workers)
        if "restore" in args.only:
            bench_restore(client, stacks, args.load, args.workers)
    except DrillError as exc:
        return fail(PROG, exc)
    finally:
        if not args.keep:
            for stack in stacks.values():
                stack.down(log=lambda _m: None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
