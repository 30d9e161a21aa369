"""`python -m bench.zones`: what zones cost a client when a zone's parts die (issue 17).

  lb        SIGKILL the load balancer holding the virtual IP; a client polling GET /readyz through the VIP every
            20 ms (a fresh connection each time, 0.5 s timeout) measures the kill -> first 200 again (the
            client-observed outage) and the longest gap between two 200s around the kill. Median and max over N
            kills (default 5). Aim: <= 3 s.
  power     the leader's zone loses power (zone_down mode power through the nemesis: etcd, PostgreSQL, API and,
            in zones a/b, a load balancer SIGKILLed at once) -> the first acknowledged purchase, against a
            single leader SIGKILL -> the first acknowledged purchase, alternated (zone, leader, zone, ...) on one
            stack so drift hits both alike. Median and max of each, and the ratio.

Times are the harness's wall clock (one machine). `--quick`: one round of each, after a pass of every line over
synthetic data; `--offline`: only that pass (no Docker; what the unit suite runs).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.common import add_modes, add_only, chosen_parts, fail, offline_done, own_stack, synthetic
from drills.errors import DrillError, StackError

PROG = "python -m bench.zones"
STACK = "bench-zones"
PARTS = ("lb", "power")
POLL_S = 0.02
WAIT_S = 120.0


@dataclass(frozen=True)
class LbKill:
    """One kill of the VIP holder: kill -> first 200 through the VIP, and the longest gap between 200s."""

    victim: str
    outage_s: float | None       # None: no 200 within WAIT_S
    longest_gap_s: float


def fmt_lb(kills: list[LbKill]) -> list[str]:
    got = [k.outage_s for k in kills if k.outage_s is not None]
    missing = len(kills) - len(got)
    if not got:
        return [f"{'zones.lb_kill_outage_s':<30} no 200 within {WAIT_S:.0f}s (n={len(kills)})"]
    gaps = [k.longest_gap_s for k in kills]
    return [f"{'zones.lb_kill_outage_s':<30} median {statistics.median(got):5.2f}  max {max(got):5.2f}  "
            f"(n={len(got)}" + (f", {missing} never served again" if missing else "")
            + "; kill -> first GET /readyz 200 through the VIP; aim <= 3 s)",
            f"{'zones.lb_kill_longest_gap_s':<30} median {statistics.median(gaps):5.2f}  max {max(gaps):5.2f}  "
            "(longest time between two 200s around the kill)"]


def fmt_power(zone_s: list[float], leader_s: list[float]) -> list[str]:
    def line(label: str, values: list[float], what: str) -> str:
        return (f"{label:<30} median {statistics.median(values):5.1f}  max {max(values):5.1f}  (n={len(values)}; "
                f"{what} -> first acknowledged purchase)")

    zm, lm = statistics.median(zone_s), statistics.median(leader_s)
    return [line("zones.leader_zone_power_s", zone_s, "the leader's zone loses power"),
            line("zones.leader_kill_s", leader_s, "a single leader SIGKILL"),
            f"{'zones.power_vs_kill_ratio':<30} {zm / lm:5.2f}  (zone power loss / single leader kill, medians)"]


class Poller:
    """GET /readyz through the VIP every POLL_S on a fresh connection; keeps the times of the 200s."""

    def __init__(self, base_url: str) -> None:
        from drills.platform import http

        self._get = http.get
        self.url = base_url.rstrip("/") + "/readyz"
        self.ok: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._get(self.url, timeout=0.5).status_code == 200:
                    self.ok.append(time.time())
            except requests.RequestException:
                pass
            self._stop.wait(POLL_S)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def gaps_around(ok: list[float], killed: float) -> tuple[float | None, float]:
    """(kill -> first 200 after it, longest gap between consecutive 200s from the last one before the kill)."""
    after = [t for t in ok if t > killed]
    before = [t for t in ok if t <= killed]
    first = after[0] - killed if after else None
    seq = ([before[-1]] if before else [killed]) + after
    longest = max((b - a for a, b in zip(seq, seq[1:], strict=False)), default=0.0)
    return first, longest


def one_lb_kill(client, stack) -> LbKill:
    status = stack.wait_healthy(timeout=180, log=lambda _m: None)
    if len(status.vip_holders) != 1:
        raise StackError(f"stack {stack.name}: expected one VIP holder, found {status.vip_holders}")
    victim = status.vip_holders[0]
    container = stack.containers()[victim]
    with Poller(status.endpoints["api"]) as poll:
        time.sleep(1.0)
        killed = time.time()
        container.kill(signal="SIGKILL")
        deadline = time.time() + WAIT_S
        while time.time() < deadline and not [t for t in poll.ok if t > killed + 1.0]:
            time.sleep(0.05)
    container.start()
    first, longest = gaps_around(poll.ok, killed)
    return LbKill(victim, first, longest)


def bench_lb(client, stack, rounds: int) -> None:
    kills = []
    for i in range(rounds):
        kills.append(one_lb_kill(client, stack))
        k = kills[-1]
        print(f"  kill {i + 1}: {k.victim}, outage {k.outage_s if k.outage_s is None else round(k.outage_s, 2)} s, "
              f"longest gap {k.longest_gap_s:.2f} s", flush=True)
    for line in fmt_lb(kills):
        print(line, flush=True)


def _first_purchase(api, token: str, event: int, since: float) -> float:
    while time.time() - since < WAIT_S:
        try:
            if api.purchase(token, event, quantity=1).ok:
                return time.time() - since
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise StackError(f"no purchase succeeded within {WAIT_S:.0f}s")


def one_power_loss(client, stack, api, token: str, event: int, workdir: Path) -> float:
    """The leader's zone loses power through the real fault family; healed through its ledger entry."""
    from drills.faults import heal, nemesis
    from drills.faults.context import FaultContext
    from drills.faults.ledger import Ledger
    from drills.platform.inventory import StackView
    from drills.scenario.model import Fault, Target

    status = stack.wait_healthy(timeout=180, log=lambda _m: None)
    view = StackView.of_reference_stack(client, stack.name, status.endpoints)
    ledger = Ledger(workdir, f"bench-zones-{int(time.time())}")
    ctx = FaultContext(client, view, ledger, ledger.run_id)
    fault = Fault("zone-power", "zone_down", Target(zone="leader"), params={"mode": "power"})
    since = time.time()
    inj = nemesis.inject(ctx, fault, "zone-power-0")
    try:
        took = _first_purchase(api, token, event, since)
        print(f"    zone {inj.data.get('zone')} ({', '.join(inj.data.get('services', []))})", flush=True)
    finally:
        _done, errors = heal.heal_entry(ledger.pending()["zone-power-0"], ctx)
        ledger.resolve("zone-power-0")
        ledger.close()
        if errors:
            raise StackError(f"heal failed: {'; '.join(errors)}")
    return took


def one_leader_kill(stack, api, token: str, event: int) -> float:
    status = stack.wait_healthy(timeout=180, log=lambda _m: None)
    leader = status.leader()
    if leader is None:
        raise StackError(f"stack {stack.name}: no single Patroni leader to kill")
    victim = stack.containers()[leader]
    since = time.time()
    victim.kill(signal="SIGKILL")
    try:
        return _first_purchase(api, token, event, since)
    finally:
        victim.start()


def bench_power(client, stack, rounds: int) -> None:
    from bench.purchases import buyer
    from drills.platform.ticketing import TicketingClient

    api = TicketingClient(stack.status().endpoints["api"], timeout=3)
    token, event = buyer(api)
    zone_s: list[float] = []
    leader_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-zones-") as tmp:
        for i in range(rounds):
            zone_s.append(one_power_loss(client, stack, api, token, event, Path(tmp)))
            leader_s.append(one_leader_kill(stack, api, token, event))
            print(f"  round {i + 1}: zone power {zone_s[-1]:.1f} s, leader kill {leader_s[-1]:.1f} s", flush=True)
    stack.wait_healthy(timeout=180, log=lambda _m: None)
    for line in fmt_power(zone_s, leader_s):
        print(line, flush=True)


def self_check(rounds: int, seed: int = 1) -> None:
    """Every line from synthetic numbers (no Docker): the code runs, nothing is measured."""
    rng = random.Random(seed)
    ok = [i * POLL_S for i in range(100)] + [3.1 + i * POLL_S for i in range(50)]
    first, longest = gaps_around(ok, 1.5)
    assert first is not None and longest >= first   # the gap includes the time before the kill's first 200
    kills = [LbKill("haproxy1", rng.uniform(1, 3), rng.uniform(1, 3.5)) for _ in range(rounds)]
    for line in fmt_lb(kills + [LbKill("haproxy2", None, 9.0)]):
        synthetic(line)
    for line in fmt_power([rng.uniform(8, 16) for _ in range(rounds)], [rng.uniform(6, 12) for _ in range(rounds)]):
        synthetic(line)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add_only(p, PARTS)
    p.add_argument("--rounds", type=int, default=None, help="kills of each kind (default 5; --quick 1)")
    p.add_argument("--keep", action="store_true", help="keep the bench stack")
    p.add_argument("--stack", default=STACK, help=f"the bench stack's name (default {STACK})")
    add_modes(p)
    args = p.parse_args(argv)
    args.only = chosen_parts(p, args.only, PARTS)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 5)
    if args.rounds < 1:
        p.error("--rounds must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick or args.offline:
        self_check(args.rounds)
    if args.offline:
        return offline_done(PROG)
    from drills.platform import engine
    from drills.platform.stack_spec import StackOptions

    try:
        client = engine.connect(timeout=600)
        opts = StackOptions(name=args.stack, zones=3, monitoring=False)
        with own_stack(client, opts, "3 zones, no monitoring", keep=args.keep, timeout=400) as stack:
            if "lb" in args.only:
                bench_lb(client, stack, args.rounds)
            if "power" in args.only:
                bench_power(client, stack, args.rounds)
    except DrillError as exc:
        return fail(PROG, exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
