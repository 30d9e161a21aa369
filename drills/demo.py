"""`make demo`: the headline in one minute. Buyers hammer the hot event, the Patroni leader is SIGKILLed,
and we show what buyers saw and whether anything acknowledged was lost.

This predates the scenario engine; once `drill run` exists the demo runs scenarios/leader-kill.yaml.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import requests
from rich.console import Console
from rich.table import Table

from drills.errors import ExitCode
from drills.platform import engine
from drills.platform.stack import Stack, container_name
from drills.platform.stack_spec import StackOptions
from drills.platform.ticketing import TicketingClient

DEMO_STACK = "demo"
BUYERS = 16
DURATION_S = 40.0
KILL_AT_S = 10.0


@dataclass
class Tally:
    outcomes: Counter = field(default_factory=Counter)
    acknowledged: list[int] = field(default_factory=list)
    ok_times: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, outcome: str, t: float, order_id: int | None = None) -> None:
        with self.lock:
            self.outcomes[outcome] += 1
            if order_id is not None:
                self.acknowledged.append(order_id)
                self.ok_times.append(t)


def run_demo(keep_stack: bool, log: Callable[[str], None], out: Console) -> int:
    client = engine.connect()
    stack = Stack(client, DEMO_STACK)
    stack.up(StackOptions(name=DEMO_STACK), log=log)
    try:
        return _drill(stack, client, log, out)
    finally:
        if keep_stack:
            log(f"stack kept: `drill stack status --name {DEMO_STACK}`; `drill stack down --name {DEMO_STACK}`")
        else:
            stack.down(log=log)


def _drill(stack: Stack, client, log: Callable[[str], None], out: Console) -> int:
    status = stack.status()
    base = status.endpoints["api"]
    api = TicketingClient(base)
    hot = api.hot_event()
    log(f"registering {BUYERS} buyers ...")
    tokens = []
    for i in range(BUYERS):
        name, pw = f"buyer-{uuid.uuid4().hex[:8]}", "demo password 123"
        api.register(name, pw)
        tokens.append(api.login(name, pw).body["token"])

    tally = Tally()
    stop = threading.Event()
    t0 = time.monotonic()

    def buyer(token: str) -> None:
        c = TicketingClient(base, timeout=5)
        while not stop.is_set():
            key, quantity = str(uuid.uuid4()), 1 + int(time.monotonic() * 1000) % 2
            for attempt in range(5):  # retries reuse the key, so a retry never buys twice
                try:
                    resp = c.purchase(token, hot["id"], quantity=quantity, key=key)
                except requests.RequestException:
                    tally.record("info (timeout/connection)", time.monotonic() - t0)
                    continue
                if resp.ok:
                    tally.record("ok", time.monotonic() - t0, resp.body["order_id"])
                    break
                unknown = resp.indeterminate or resp.status in (502, 504)  # the fate of the order is unknown
                kind = f"info ({resp.status}, indeterminate)" if unknown else f"fail ({resp.status})"
                tally.record(kind, time.monotonic() - t0)
                if resp.status < 500:
                    break
                time.sleep(0.2 * (attempt + 1))

    threads = [threading.Thread(target=buyer, args=(tok,), daemon=True) for tok in tokens]
    for th in threads:
        th.start()
    leader = status.leader()
    time.sleep(KILL_AT_S)
    log(f"t={time.monotonic() - t0:.1f}s: SIGKILL the Patroni leader {leader}")
    kill_at = time.monotonic() - t0
    client.containers.get(container_name(DEMO_STACK, leader)).kill(signal="SIGKILL")
    time.sleep(max(0.0, DURATION_S - (time.monotonic() - t0)))
    stop.set()
    for th in threads:
        th.join(timeout=10)
    log("restarting the old leader and waiting for the stack to heal ...")
    client.containers.get(container_name(DEMO_STACK, leader)).start()
    healed = stack.wait_healthy(timeout=120, log=log)

    present = {o["id"] for o in api.audit("orders")}
    lost = [o for o in tally.acknowledged if o not in present]
    seats = Counter((t["event_id"], t["seat_no"]) for t in api.audit("tickets"))
    oversold = sum(1 for n in seats.values() if n > 1)
    # Longest stretch without a single successful purchase, from just before the kill on.
    oks = sorted(t for t in tally.ok_times if t >= kill_at - 1.0)
    outage = max((b - a for a, b in zip(oks, oks[1:])), default=float("nan"))

    table = Table(title="demo: leader SIGKILL under purchase load", title_justify="left")
    table.add_column("what")
    table.add_column("value", justify="right")
    for outcome, n in sorted(tally.outcomes.items()):
        table.add_row(f"purchase attempts: {outcome}", str(n))
    table.add_row("old leader -> new leader", f"{leader} -> {healed.leader()}")
    table.add_row("longest time with no successful purchase", f"{outage:.1f} s")
    table.add_row("acknowledged orders", str(len(tally.acknowledged)))
    table.add_row("acknowledged orders lost", f"[{'red' if lost else 'green'}]{len(lost)}[/]")
    table.add_row("seats sold twice", f"[{'red' if oversold else 'green'}]{oversold}[/]")
    out.print(table)
    return ExitCode.BUDGET_FAILED if lost or oversold else ExitCode.PASS
