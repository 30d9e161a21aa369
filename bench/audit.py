"""`python -m bench.audit`: how fast the checks judge a big run. Prints, asserts nothing.

Generates a synthetic run directory (default 1,000,000 operations from 4 load processes over 120 s, a leader
SIGKILL at 60 s with a 10 s outage, and the matching final state with a few lost and duplicated writes),
then times `judge()` on it in a fresh process and reports operations/s, CPU seconds (wall time suffers when
the machine is shared) and peak memory (max RSS of the judging process, the honest peak: numpy and the
history's columns included). The aims (issue 19): a million operations judged in <= 1.5 s and <= 300 MB,
ten million (`--ops 10000000`; 3 GB of history on disk meanwhile) in <= 15 s and <= 1.5 GB.
`--stdlib-json` also times the standard-library JSON fallback (orjson absent). `--quick`: 3,000 operations,
both JSON back-ends, in about a second (what the unit suite runs).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import add_modes, judged_in_child
from drills.checks.finalstate import FinalState, write_final_state
from drills.scenario.model import Budget, Scenario

PROG = "python -m bench.audit"
OPS, QUICK_OPS = 1_000_000, 3_000
AIMS = ((1_000_000, 1.5, 300.0), (10_000_000, 15.0, 1500.0))   # operations, seconds, MB (issue 19)


def aim(ops: int) -> str:
    """The issue's aim for this size, in words (linear between and beyond its two points; 300 MB below 1M)."""
    (n0, s0, m0), (n1, s1, m1) = AIMS
    seconds = s0 * ops / n0
    mb = m0 if ops <= n0 else m0 + (m1 - m0) * (ops - n0) / (n1 - n0)
    return f"aim <= {seconds:.3g} s and <= {mb:,.0f} MB"
T0 = 1_764_150_000.0
KILL_S, ELECTED_S, HEAL_S = 60.0, 70.0, 90.0
USERS = 2000

_PURCHASE = ('{{"op":"purchase","worker":"w{w}","user":"u-{u:04d}","invoke":{i:.3f},"complete":{c:.3f},'
             '"outcome":"{o}","status":{st},"error":{err},"key":"{k}","attempt":{a},"event_id":1,'
             '"seats":{seats},"quantity":1,"order_id":{oid},"ticket_ids":{tids},"replica":"api{r}",'
             '"credential_version":null}}\n')
_OTHER = ('{{"op":"{op}","worker":"w{w}","user":"u-{u:04d}","invoke":{i:.3f},"complete":{c:.3f},'
          '"outcome":"{o}","status":{st},"error":{err},"key":null,"attempt":1,"event_id":{ev},"seats":null,'
          '"quantity":null,"order_id":null,"ticket_ids":null,"replica":"api{r}","credential_version":{cv}}}\n')


def scenario() -> Scenario:
    """The budgets a leader-kill drill would carry, so every metric path is exercised."""
    return Scenario(name="bench-audit", budgets=[
        Budget("lost", max=0), Budget("duplicated", max=0), Budget("oversold", max=0),
        Budget("success_ratio", min=0.9), Budget("longest_outage_s", max=30, phase="during_fault"),
        Budget("recovery_s", max=60), Budget("latency_p99_ms", max=1000, phase="steady"),
        Budget("failover_s", max=30), Budget("error_budget_burn", max=10.0),
    ])


def _events(run_dir: Path, seconds: float) -> None:
    ev = [
        {"t": T0 - 5, "kind": "run", "name": "started"},
        {"t": T0, "kind": "run", "name": "load_started"},
        {"t": T0, "kind": "phase", "name": "warmup", "start_s": 0.0, "end_s": 10.0},
        {"t": T0 + 10, "kind": "phase", "name": "steady", "start_s": 10.0, "end_s": seconds - 20},
        {"t": T0 + seconds - 20, "kind": "phase", "name": "recovery", "start_s": seconds - 20, "end_s": seconds},
        {"t": T0 + KILL_S, "kind": "fault", "phase": "inject", "fault_id": "kill-leader", "type": "kill",
         "target": {"service": "pg1", "container": "drills-bench-pg1", "role": "leader"}, "link": None,
         "params": {"signal": "SIGKILL"}, "scheduled_s": KILL_S, "offset_s": KILL_S, "ok": True, "error": None,
         "iteration": 0},
        {"t": T0 + HEAL_S, "kind": "fault", "phase": "heal", "fault_id": "kill-leader", "type": "kill",
         "target": {"service": "pg1"}, "ok": True, "error": None, "iteration": 0},
        {"t": T0 + seconds, "kind": "run", "name": "load_stopped"},
        {"t": T0 + seconds + 5, "kind": "run", "name": "finished"},
    ]
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ev))


def _probes(run_dir: Path, seconds: float) -> None:
    lines = []
    for k in range(int(seconds * 2) + 10):
        t = k / 2
        pg1_up = not (KILL_S <= t < HEAL_S)
        leader = "pg1" if t < KILL_S else ("pg2" if t >= ELECTED_S else None)
        nodes = {"pg1": {"container": "running" if pg1_up else "exited",
                         "role": "leader" if leader == "pg1" else ("replica" if pg1_up else "unknown"),
                         "lb": "UP" if leader == "pg1" else "DOWN"},
                 "pg2": {"container": "running", "role": "leader" if leader == "pg2" else "sync_standby",
                         "lb": "UP" if leader == "pg2" else "DOWN"},
                 "pg3": {"container": "running", "role": "replica", "lb": "DOWN"}}
        lines.append(json.dumps({"t": T0 + t, "leader": leader, "nodes": nodes, "cut_off": [],
                                 "faults_active": ["kill-leader"] if not pg1_up else []}) + "\n")
    (run_dir / "probes.jsonl").write_text("".join(lines))


def generate(run_dir: Path, ops: int = 1_000_000, workers: int = 4, seconds: float = 120.0, seed: int = 1) -> dict:
    """Write a synthetic run directory; returns what was planted (to compare with the verdict)."""
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    _events(run_dir, seconds)
    _probes(run_dir, seconds)
    (run_dir / "meta.json").write_text(json.dumps({"run_id": "bench", "seed": seed, "run_secret": "s" * 32,
                                                   "versions": {"drills": "bench"}, "images": {}}))
    files = [(run_dir / f"history-w{w}.jsonl").open("w") for w in range(workers)]
    state = FinalState(read_at=T0 + seconds + 10, events=[])
    versions = [1] * USERS
    order_id = ticket_id = seat = 0
    prev_key: str | None = None
    planted = {"lost": 0, "duplicated": 0, "acknowledged": 0}
    rate = ops / seconds
    for n in range(ops):
        i = T0 + n / rate
        s = i - T0
        w, u, r = n % workers, rng.randrange(USERS), 1 + n % 3
        x = rng.random()
        outage = KILL_S <= s < ELECTED_S
        lat = rng.uniform(0.003, 0.08) if not outage else rng.uniform(0.5, 5.0)
        c = i + lat
        if x < 0.70:
            retry = prev_key is not None and rng.random() < 0.05
            key = prev_key if retry and prev_key is not None else f"k{n:09d}-{rng.getrandbits(64):016x}"
            prev_key = key
            if outage:
                o = "info" if rng.random() < 0.5 else "fail"
                st, err = ("null", '"ReadTimeout"') if o == "info" else ("503", '"unavailable"')
                files[w].write(_PURCHASE.format(w=w, u=u, i=i, c=c, o=o, st=st, err=err, k=key, a=2 if retry else 1,
                                                seats="null", oid="null", tids="null", r=r))
                if o == "info" and rng.random() < 0.5 and key not in state.order_keys[-3:]:
                    order_id, ticket_id, seat = order_id + 1, ticket_id + 1, seat + 1
                    state.order_ids.append(order_id)
                    state.order_keys.append(key)
                    state.order_events.append(1)
                    state.order_created.append(c)
                    state.order_seats.append(1)
                    state.ticket_ids.append(ticket_id)
                    state.ticket_orders.append(order_id)
                    state.ticket_events.append(1)
                    state.ticket_seats.append(seat)
                continue
            if retry and state.order_keys and state.order_keys[-1] == key:
                oid, seat_no = state.order_ids[-1], state.ticket_seats[-1]
            else:
                order_id, ticket_id, seat = order_id + 1, ticket_id + 1, seat + 1
                oid, seat_no = order_id, seat
                planted["acknowledged"] += 1
                lose = rng.random() < 2e-5
                planted["lost"] += lose
                if lose:    # a retry of its key would write it (a new order): it would not be lost after all
                    prev_key = None
                copies = 0 if lose else (2 if rng.random() < 1e-5 else 1)
                planted["duplicated"] += copies == 2
                for copy in range(copies):
                    if copy:  # a second order for the same key: its own id and seat
                        order_id, seat = order_id + 1, seat + 1
                        oid, seat_no = order_id, seat
                    state.order_ids.append(oid)
                    state.order_keys.append(key)
                    state.order_events.append(1)
                    state.order_created.append(c)
                    state.order_seats.append(1)
                    state.ticket_ids.append(ticket_id)
                    state.ticket_orders.append(oid)
                    state.ticket_events.append(1)
                    state.ticket_seats.append(seat_no)
                    ticket_id += 1
            files[w].write(_PURCHASE.format(w=w, u=u, i=i, c=c, o="ok", st=201, err="null", k=key, a=1,
                                            seats=f"[{seat_no}]", oid=oid, tids=f"[{ticket_id}]", r=r))
        else:
            op = "browse" if x < 0.90 else ("rotate_password" if x < 0.95 else "login")
            o = ("info" if rng.random() < 0.5 else "fail") if outage and op != "browse" else "ok"
            cv = "null"
            if op == "rotate_password" and o == "ok":
                versions[u] += 1
                cv = str(versions[u])
            st, err = ("200", "null") if o == "ok" else ("503", '"unavailable"')
            files[w].write(_OTHER.format(op=op, w=w, u=u, i=i, c=c, o=o, st=st, err=err, ev=1, r=r, cv=cv))
    for f in files:
        f.close()
    state.credentials = {f"u-{u:04d}": v for u, v in enumerate(versions)}
    sold = len(state.ticket_ids)
    state.events = [{"id": 1, "name": "hot", "capacity": 2_000_000, "sold": sold, "tickets": sold,
                     "seats_taken": sold}]
    write_final_state(run_dir, state)
    stats = []
    for sec in range(int(seconds)):
        for w in range(workers):
            stats.append(json.dumps({"t": T0 + sec + 1, "worker": f"w{w}", "requests": rate / workers,
                                     "ok": rate / workers, "fail": 0, "info": 0, "p50_ms": 40.0, "p99_ms": 80.0,
                                     "offered_rate": rate / workers, "target_rate": rate / workers,
                                     "users": 50, "cpu_percent": 40.0}) + "\n")
    (run_dir / "stats.jsonl").write_text("".join(stats))
    return planted


def judge_only(run_dir: Path) -> None:
    """Child process: judge once, print timing and peak memory as JSON."""
    from drills.checks import judge
    from drills.rundir import codec as jsonl

    t, cpu = time.perf_counter(), time.process_time()
    result = judge(run_dir, scenario())
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "maxrss_mb": rss_mb, "json": jsonl.BACKEND,
                      "verdict": result["verdict"], "operations": result["checks"]["operations"],
                      "lost": result["audit"]["lost"], "duplicated": result["audit"]["duplicated"],
                      "budgets": {b["name"]: [b["observed"], b["passed"]] for b in result["budgets"]}}))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    p.add_argument("--ops", type=int, default=None, help=f"operations (default {OPS:,}; --quick {QUICK_OPS:,})")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--dir", type=Path, help="keep the generated run directory here")
    p.add_argument("--judge", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--stdlib-json", action="store_true",
                   help="also time the standard-library JSON fallback (always with --quick)")
    add_modes(p, docker=False)
    args = p.parse_args(argv)
    if args.judge:
        judge_only(args.judge)
        return 0
    ops = args.ops if args.ops is not None else (QUICK_OPS if args.quick else OPS)
    if ops < 1 or args.workers < 1:
        p.error("--ops and --workers must be positive")
    run_dir = args.dir or Path(tempfile.mkdtemp(prefix="drills-bench-audit-"))
    try:
        t = time.perf_counter()
        planted = generate(run_dir, ops, args.workers)
        size = sum(f.stat().st_size for f in run_dir.glob("history*.jsonl")) / 1e6
        print(f"audit.generate_s       {time.perf_counter() - t:8.1f}   ({ops:,} operations, "
              f"{size:.{1 if size < 10 else 0}f} MB of history in {args.workers} files; planted {planted})",
              flush=True)
        variants: list[tuple[str, dict[str, str]]] = [("", {})]
        if args.stdlib_json or args.quick:
            variants.append((" (stdlib json)", {"DRILLS_JSON": "json"}))
        for label, env in variants:
            r = judged_in_child("bench.audit", run_dir, f"judging the synthetic run{label}", env)
            if r is None:
                return 1
            print(f"audit.judge_s          {r['seconds']:8.2f}   ({r['operations'] / r['seconds']:,.0f} ops/s; "
                  f"{r['cpu_seconds']:.2f} s CPU; peak RSS {r['maxrss_mb']:.0f} MB; json={r['json']}{label}; "
                  f"verdict {r['verdict']}, lost {r['lost']}, duplicated {r['duplicated']}; {aim(ops)})",
                  flush=True)
    finally:
        if args.dir is None:
            shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
