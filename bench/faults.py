"""Fault timing precision: |actual - scheduled| for inject and heal over many faults, and SIGINT -> healed.

`python -m bench.faults` runs one drill with a flip-flop of short faults (Toxiproxy latency, freeze of an
API replica, packet loss on a replica, SIGKILL of an API replica) under light load, then reads events.jsonl:
|offset - scheduled| per family (aim: p99 <= 100 ms), and the scheduler's own part of it (start lag: from the
scheduled moment to the start of the inject or heal call); then a second drill with three long faults,
interrupted (SIGINT) once they are injected, timed to its `healed_all` event. The machine's load average is
printed before and after (timings on a shared engine mean little without it). `--only timing|sigint` runs one
part, `--prefix` names the drills' stacks (a shared engine), `--keep DIR` keeps the timing run directory.

`--quick`: a 10 s timing drill with 9 faults instead of 68 s with 90, after a pass over synthetic
events.jsonl files (both scenarios validated, the same parsing and printing). `--offline`: only that pass
(no Docker needed; what the unit suite runs).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bench.common import add_modes, add_only, chosen_parts, fail, offline_done, synthetic
from drills.errors import DrillError, InfrastructureError

PROG = "python -m bench.faults"

SCENARIO: dict[str, Any] = {
    "name": "bench-fault-timing",
    "description": "many short faults to measure scheduling precision",
    "seed": 1,
    # no monitoring and no backups: fewer containers on a shared machine; faults do not need them
    "stack": {"reference": {"hot_event_seats": 5000, "monitoring": False, "backups": False}},
    "phases": {"warmup": "2s", "steady": "64s", "recovery": "2s"},
    "load": {"profile": {"type": "constant_users", "users": 4, "spawn_rate": 4}},
    "faults": [
        {"id": "lat", "type": "latency", "link": "lb_api1", "at": "1s", "duration": "0.5s",
         "repeat_every": "1s", "repeat_count": 60, "params": {"latency_ms": 50}},
        {"id": "frz", "type": "freeze", "target": {"service": "api2"}, "at": "1.3s", "duration": "1s",
         "repeat_every": "3s", "repeat_count": 20},
        {"id": "loss", "type": "packet_loss", "target": {"service": "pg3"}, "at": "2s", "duration": "2s",
         "repeat_every": "6s", "repeat_count": 10, "params": {"percent": 5}},
        {"id": "kill", "type": "kill", "target": {"service": "api3"}, "at": "2.6s", "duration": "2s",
         "repeat_every": "6s", "repeat_count": 10},
    ],
    "budgets": [{"metric": "lost", "max": 0}],
}
# --quick: the same three faults, a few repetitions each
QUICK_STEADY_S = 8
QUICK_REPEATS = {"lat": 6, "frz": 2, "loss": 1, "kill": 1}
SIGINT_FAULTS = [{"id": "frz", "type": "freeze", "target": {"service": "api1"}, "at": "1s"},
                 {"id": "lat", "type": "latency", "link": "api2_db", "at": "1s", "params": {"latency_ms": 100}},
                 {"id": "iso", "type": "isolate", "target": {"role": "replica"}, "at": "1s"}]


PARTS = ("timing", "sigint")


def timing_scenario(quick: bool = False, prefix: str = "") -> dict:
    spec = copy.deepcopy(SCENARIO)
    spec["name"] = prefix + spec["name"]
    if quick:
        spec["phases"] = {"warmup": "1s", "steady": f"{QUICK_STEADY_S}s", "recovery": "1s"}
        for fault in spec["faults"]:
            fault["repeat_count"] = QUICK_REPEATS[fault["id"]]
    return spec


def sigint_scenario(prefix: str = "") -> dict:
    """Interrupted once its three faults are in, so the full-length phases cost nothing (and keep the SIGINT
    well inside the steady phase, before the faults would be healed anyway)."""
    return dict(copy.deepcopy(SCENARIO), name=f"{prefix}bench-sigint", faults=copy.deepcopy(SIGINT_FAULTS))


def validate(spec: dict) -> None:
    """The scenario still passes the drill's own validation (so a format change cannot rot the benchmark)."""
    from drills.scenario import scenario_from_dict

    scenario_from_dict(spec, file=f"<{spec['name']}>")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))] if values else float("nan")


def read_events(out: Path, stderr: str = "") -> list[dict]:
    path = out / "events.jsonl"
    if not path.is_file():
        raise InfrastructureError(f"the drill wrote no {path.name}" + (f": {stderr.strip()[-500:]}" if stderr else ""),
                                  hint="`drill run` the scenario by hand to see the whole error")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def precision_report(events: list[dict]) -> str:
    lines = []
    for phase in ("inject", "heal"):
        by_type: dict[str, list[float]] = {}
        for e in events:
            if e.get("kind") == "fault" and e.get("phase") == phase and e.get("ok"):
                delay = abs(e["offset_s"] - e["scheduled_s"]) * 1000
                by_type.setdefault(e["type"], []).append(delay)
        every = [d for v in by_type.values() for d in v]
        lines.append(f"faults.{phase}_delay_ms   n={len(every):3}  p50 {pct(every, 50):6.1f}  "
                     f"p99 {pct(every, 99):6.1f}  "
                     + "  ".join(f"{t}: p50 {pct(v, 50):.0f} p99 {pct(v, 99):.0f}" for t, v in sorted(by_type.items())))
        # of which the scheduler's part: from the scheduled moment to the start of the inject / heal call
        lag = [abs(e["started_s"] - e["scheduled_s"]) * 1000 for e in events
               if e.get("kind") == "fault" and e.get("phase") == phase and e.get("ok") and "started_s" in e]
        lines.append(f"faults.{phase}_start_lag_ms  n={len(lag):3}  p50 {pct(lag, 50):6.1f}  p99 {pct(lag, 99):6.1f}")
    return "\n".join(lines)


def sigint_report(events: list[dict], t0: float) -> str:
    healed = [e for e in events if e.get("kind") == "run" and e.get("name") == "healed_all"]
    return (f"faults.sigint_to_all_healed_s  {healed[0]['t'] - t0:6.2f}   (3 active faults: freeze, toxic, isolation)"
            if healed else "faults.sigint_to_all_healed_s  (no healed_all event)")


def load_line(when: str) -> str:
    """The machine's load average, printed with each measurement (a shared engine distorts every timing)."""
    one, five, fifteen = os.getloadavg()
    return f"faults.load_average ({when})  {one:.2f} {five:.2f} {fifteen:.2f}  on {os.cpu_count()} CPUs"


def precision(out: Path, stderr: str = "") -> None:
    print(precision_report(read_events(out, stderr)), flush=True)


def _drill(path: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "drills", "run", str(path), "--out", str(out), "--quiet"]


def sigint_to_healed(tmp: Path, prefix: str = "") -> None:
    path = tmp / "sigint.yaml"
    path.write_text(yaml.safe_dump(sigint_scenario(prefix)))
    out = tmp / "sigint-run"
    proc = subprocess.Popen(_drill(path, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise InfrastructureError(f"the SIGINT drill ended before its faults were injected: {err[-500:]}")
        ev = out / "events.jsonl"
        if ev.exists() and sum('"phase":"inject"' in line for line in ev.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    time.sleep(1)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=600)
    print(sigint_report(read_events(out), t0), flush=True)


def synthetic_events(spec: dict, seed: int = 1) -> list[dict]:
    """events.jsonl as the drill would write it for `spec`: each inject and heal a few ms late."""
    from drills.scenario import parse_duration

    rng = random.Random(seed)
    events: list[dict] = [{"t": 0.0, "kind": "run", "name": "load_started"}]
    for f in spec["faults"]:
        at, every = parse_duration(f["at"]), parse_duration(f.get("repeat_every", "0s"))
        duration = parse_duration(f["duration"]) if "duration" in f else None
        for i in range(f.get("repeat_count", 1)):
            for phase, scheduled in (("inject", at + i * every), ("heal", at + i * every + (duration or 1.0))):
                started = scheduled + rng.uniform(0.0005, 0.005)
                offset = started + rng.uniform(0.001, 0.030)
                events.append({"t": offset, "kind": "fault", "phase": phase, "fault_id": f["id"], "type": f["type"],
                               "iteration": i, "scheduled_s": round(scheduled, 3), "started_s": round(started, 3),
                               "offset_s": round(offset, 3), "ok": True})
    return sorted(events, key=lambda e: e["t"])


def self_check(quick: bool, tmp: Path) -> None:
    """Both scenarios validated and written as for the drill; the reports computed from synthetic events."""
    timing, sig = timing_scenario(quick), sigint_scenario()
    for spec in (timing, sig):
        validate(spec)
        (tmp / f"{spec['name']}.yaml").write_text(yaml.safe_dump(spec))
    out = tmp / "synthetic-run"
    out.mkdir()
    (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in synthetic_events(timing)))
    synthetic(precision_report(read_events(out)))
    t0 = 100.0
    events = synthetic_events(sig) + [{"t": t0 + 2.5, "kind": "run", "name": "healed_all", "ok": True}]
    synthetic(sigint_report(events, t0))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add_modes(p)
    add_only(p, PARTS)
    p.add_argument("--prefix", default="", help="put this before the drills' names (and so their stacks' names), "
                                               "e.g. to tell a shared engine's stacks apart")
    p.add_argument("--keep", metavar="DIR", help="copy the timing drill's run directory here")
    args = p.parse_args(argv)
    parts = chosen_parts(p, args.only, PARTS)
    with tempfile.TemporaryDirectory(prefix="drills-bench-") as tmp:
        tmp_path = Path(tmp)
        try:
            if args.quick or args.offline:
                self_check(args.quick, tmp_path)
            if args.offline:
                return offline_done(PROG)
            from drills.platform import engine

            engine.connect()  # the drills below need it: say so now, not after a failed run
            if "timing" in parts:
                spec = timing_scenario(args.quick, args.prefix)
                validate(spec)
                path = tmp_path / "timing.yaml"
                path.write_text(yaml.safe_dump(spec))
                out = tmp_path / "timing-run"
                print(load_line("before"), flush=True)
                run = subprocess.run(_drill(path, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, env=dict(os.environ))
                print(load_line("after"), flush=True)
                precision(out, run.stderr)
                if args.keep:
                    shutil.copytree(out, Path(args.keep) / out.name, dirs_exist_ok=True)
            if "sigint" in parts:
                sigint_to_healed(tmp_path, args.prefix)
        except DrillError as exc:
            return fail(PROG, exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
