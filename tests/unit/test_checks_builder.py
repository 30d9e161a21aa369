"""A small builder of run directories for the checks' tests, and tests of the builder itself.

Times are offsets (seconds) from load start; the builder turns them into the epoch stamps the run directory
contract uses. `final_from_history()` makes the final state an honest system would hold, which a test then
breaks on purpose (drop an order: lost; add one: unexpected; ...).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

from drills.checks import judge
from drills.checks.finalstate import FinalState, write_final_state
from drills.scenario.model import Budget, Phases, Scenario

T0 = 1_700_000_000.0


def at(offset: float) -> float:
    """Epoch stamp of an offset from load start (millisecond precision, like the load)."""
    return round(T0 + offset, 3)


def scenario(*budgets: Budget, expect: str = "pass", phases: Phases | None = None) -> Scenario:
    return Scenario(name="t", expect=expect, budgets=list(budgets), phases=phases or Phases(10.0, 40.0, 10.0))


class Run:
    """A run directory under construction."""

    def __init__(self, root: Path, duration: float = 60.0,
                 phases: tuple[float, float, float] | None = (10.0, 40.0, 10.0)) -> None:
        self.dir = root
        self.duration = duration
        self.events: list[dict] = [{"t": at(-2), "kind": "run", "name": "started"},
                                   {"t": at(0), "kind": "run", "name": "load_started"}]
        if phases:
            start = 0.0
            for name, length in zip(("warmup", "steady", "recovery"), phases, strict=False):
                self.events.append({"t": at(start), "kind": "phase", "name": name, "start_s": start,
                                    "end_s": start + length})
                start += length
        self.stopped = {"t": at(duration), "kind": "run", "name": "load_stopped"}
        self.history: list[dict] = []
        self.stats: list[dict] = []
        self.probes: list[dict] = []
        self.meta: dict = {"run_id": "test-run", "seed": 7, "run_secret": "s3cret", "versions": {"drills": "0"},
                           "images": {"api": "sha256:0"}}
        self.final: FinalState | None = None
        self._seq = itertools.count(1)

    # history -----------------------------------------------------------------------------------------------

    def op(self, op: str, outcome: str, t: float, latency: float = 0.01, **fields) -> dict:
        line = {"op": op, "worker": fields.pop("worker", "w0"), "user": fields.pop("user", "u1"),
                "invoke": at(t), "complete": at(t + latency), "outcome": outcome,
                "status": {"ok": 200, "fail": 503}.get(outcome),
                "error": None if outcome == "ok" else fields.pop("error", "unavailable"), **fields}
        self.history.append(line)
        return line

    def purchase(self, outcome: str = "ok", t: float = 1.0, key: str | None = None,
                 seats: tuple[int, ...] | None = None, latency: float = 0.01, order_id: int | None = None,
                 **fields) -> str:
        """One purchase attempt; an ok one gets an order id and seats (fresh ones unless given)."""
        n = next(self._seq)
        key = key or f"key-{n}"
        extra: dict = {"key": key, "attempt": fields.pop("attempt", 1), "event_id": fields.pop("event_id", 1)}
        if outcome == "ok":
            seats = seats or (n,)
            extra.update(seats=list(seats), quantity=len(seats), order_id=order_id or n,
                         ticket_ids=[n * 10 + i for i in range(len(seats))])
        else:
            extra.update(seats=list(seats) if seats else None, quantity=len(seats) if seats else 1)
        self.op("purchase", outcome, t, latency, **extra, **fields)
        return key

    def stream(self, op: str = "purchase", start: float = 0.0, end: float | None = None, every: float = 0.1,
               outcome: Callable[[float], str] = lambda t: "ok", latency: float = 0.01, **fields) -> None:
        """An op every `every` seconds in [start, end), each with its own idempotency key."""
        end = self.duration if end is None else end
        for k in range(int(round((end - start) / every))):
            t = round(start + k * every, 3)
            if op == "purchase":
                self.purchase(outcome(t), t, latency=latency, **fields)
            else:
                self.op(op, outcome(t), t, latency, **fields)

    def rotate(self, user: str, outcome: str, t: float, version: int | None = None, **fields) -> None:
        self.op("rotate_password", outcome, t, user=user, credential_version=version if outcome == "ok" else None,
                **fields)

    # events, stats, probes ------------------------------------------------------------------------------------

    def fault(self, fault_id: str, inject: float, heal: float | None = None, type: str = "kill",
              target: dict | None = None, link: str | None = None, ok: bool = True, iteration: int = 0) -> None:
        target = target if target is not None or link else {"service": "pg1", "container": "drills-t-pg1",
                                                             "role": "leader"}
        self.events.append({"t": at(inject), "kind": "fault", "phase": "inject", "fault_id": fault_id, "type": type,
                            "target": target, "link": link, "params": {}, "scheduled_s": inject, "offset_s": inject,
                            "ok": ok, "error": None if ok else "boom", "iteration": iteration})
        if heal is not None:
            self.events.append({"t": at(heal), "kind": "fault", "phase": "heal", "fault_id": fault_id, "type": type,
                                "target": target, "link": link, "ok": True, "error": None, "iteration": iteration})

    def stat(self, t: float, worker: str = "w0", ok: int = 10, fail: int = 0, info: int = 0,
             offered: float = 10.0, target: float | None = 10.0, cpu: float = 30.0) -> None:
        self.stats.append({"t": at(t), "worker": worker, "requests": ok + fail + info, "ok": ok, "fail": fail,
                           "info": info, "p50_ms": 10.0, "p99_ms": 50.0, "offered_rate": offered,
                           "target_rate": target, "users": 5, "cpu_percent": cpu})

    def probe(self, t: float, leader: str | None, **nodes: dict) -> None:
        def pg(name: str) -> dict:
            return {"container": "running", "role": "leader" if leader == name else "replica",
                    "lb": "UP" if leader == name else "DOWN"}
        base = {"pg1": pg("pg1"), "pg2": pg("pg2"), "api1": {"container": "running", "role": "api", "lb": "UP"}}
        for name, fields in nodes.items():
            base[name] = {**base.get(name, {}), **fields}
        self.probes.append({"t": at(t), "leader": leader, "nodes": base, "cut_off": [], "faults_active": []})

    # final state ----------------------------------------------------------------------------------------------

    def final_from_history(self, applied: tuple[str, ...] = (), capacity: int = 100000) -> FinalState:
        """What an honest system holds: one order per acknowledged key (plus `applied` indeterminate keys)."""
        state = FinalState(read_at=at(self.duration + 5))
        seen: set[str] = set()
        oid = 10_000
        for line in self.history:
            if line["op"] != "purchase" or line["key"] in seen:
                continue
            if line["outcome"] == "ok" or line["key"] in applied:
                seen.add(line["key"])
                oid += 1
                seats = line.get("seats") or [oid]
                self.add_order(state, line["key"], line.get("order_id") or oid, seats, line["complete"])
        versions: dict[str, int] = {}
        for line in self.history:
            if line["op"] == "rotate_password" and line["outcome"] == "ok":
                versions[line["user"]] = max(versions.get(line["user"], 1), line["credential_version"])
        state.credentials = versions
        sold = len(state.ticket_ids)
        state.events = [{"id": 1, "name": "hot", "capacity": capacity, "sold": sold, "tickets": sold,
                         "seats_taken": sold}]
        self.final = state
        return state

    @staticmethod
    def add_order(state: FinalState, key: str, order_id: int, seats: list[int], created: float | None,
                  event_id: int = 1) -> None:
        state.order_ids.append(order_id)
        state.order_keys.append(key)
        state.order_events.append(event_id)
        state.order_created.append(created)
        state.order_seats.append(len(seats))
        for s in seats:
            state.ticket_ids.append(len(state.ticket_ids) + 1)
            state.ticket_orders.append(order_id)
            state.ticket_events.append(event_id)
            state.ticket_seats.append(s)

    # output ---------------------------------------------------------------------------------------------------

    def write(self, truncate_last: str | None = None, stopped: bool = True) -> Path:
        """Write the files; `truncate_last` names a .jsonl file whose last line is cut in half (a crash)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        events = self.events + ([self.stopped] if stopped else [])
        files = {"events.jsonl": sorted(events, key=lambda e: e["t"]), "stats.jsonl": self.stats,
                 "probes.jsonl": self.probes}
        by_worker: dict[str, list[dict]] = {}
        for line in self.history:
            by_worker.setdefault(line["worker"], []).append(line)
        if len(by_worker) <= 1:
            files["history.jsonl"] = self.history
        else:
            for worker, lines in by_worker.items():
                files[f"history-{worker}.jsonl"] = lines
        for name, rows in files.items():
            if rows or name != "probes.jsonl":
                text = "".join(json.dumps(r) + "\n" for r in rows)
                if name == truncate_last and text:
                    text = text[:-(len(json.dumps(rows[-1])) // 2)]
                (self.dir / name).write_text(text)
        (self.dir / "meta.json").write_text(json.dumps(self.meta))
        if self.final is not None:
            write_final_state(self.dir, self.final)
        return self.dir

    def judge(self, *budgets: Budget, expect: str = "pass", **write_args) -> dict:
        return judge(self.write(**write_args), scenario(*budgets, expect=expect))


# tests of the builder ------------------------------------------------------------------------------------------


def test_builder_writes_the_contract_files(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=1.0)
    run.stat(1.0)
    run.final_from_history()
    out = run.write()
    assert {p.name for p in out.iterdir()} >= {"events.jsonl", "history.jsonl", "stats.jsonl", "meta.json",
                                               "final-state.json"}
    lines = (out / "history.jsonl").read_text().splitlines()
    assert len(lines) == 10 and json.loads(lines[0])["invoke"] == at(0.0)


def test_a_clean_run_passes(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.05)
    run.final_from_history()
    result = run.judge(Budget("lost", max=0), Budget("success_ratio", min=0.99))
    assert result["verdict"] == "pass", result["verdict_reasons"]
    assert result["audit"]["acknowledged"] == 1200 and result["audit"]["lost"] == 0
