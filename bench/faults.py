"""Fault timing precision: |actual - scheduled| for inject and heal over many faults, and SIGINT -> healed.

`python -m bench.faults` runs one drill with a flip-flop of short faults (Toxiproxy latency, freeze of an
API replica, packet loss on a replica) under light load, then reads events.jsonl.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SCENARIO = {
    "name": "bench-fault-timing",
    "description": "many short faults to measure scheduling precision",
    "seed": 1,
    "stack": {"reference": {"hot_event_seats": 5000}},
    "phases": {"warmup": "2s", "steady": "64s", "recovery": "2s"},
    "load": {"profile": {"type": "constant_users", "users": 4, "spawn_rate": 4}},
    "faults": [
        {"id": "lat", "type": "latency", "link": "lb_api1", "at": "1s", "duration": "0.5s",
         "repeat_every": "1s", "repeat_count": 60, "params": {"latency_ms": 50}},
        {"id": "frz", "type": "freeze", "target": {"service": "api2"}, "at": "1.3s", "duration": "1s",
         "repeat_every": "3s", "repeat_count": 20},
        {"id": "loss", "type": "packet_loss", "target": {"service": "pg3"}, "at": "2s", "duration": "2s",
         "repeat_every": "6s", "repeat_count": 10, "params": {"percent": 5}},
    ],
    "budgets": [{"metric": "lost", "max": 0}],
}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))] if values else float("nan")


def precision(out: Path) -> None:
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines() if line.strip()]
    for phase in ("inject", "heal"):
        by_type: dict[str, list[float]] = {}
        for e in events:
            if e.get("kind") == "fault" and e.get("phase") == phase and e.get("ok"):
                delay = abs(e["offset_s"] - e["scheduled_s"]) * 1000
                by_type.setdefault(e["type"], []).append(delay)
        every = [d for v in by_type.values() for d in v]
        print(f"faults.{phase}_delay_ms   n={len(every):3}  p50 {pct(every, 50):6.1f}  p99 {pct(every, 99):6.1f}  "
              + "  ".join(f"{t}: p50 {pct(v, 50):.0f} p99 {pct(v, 99):.0f}" for t, v in sorted(by_type.items())))


def sigint_to_healed(tmp: Path) -> None:
    spec = dict(SCENARIO, name="bench-sigint",
                faults=[{"id": "frz", "type": "freeze", "target": {"service": "api1"}, "at": "1s"},
                        {"id": "lat", "type": "latency", "link": "api2_db", "at": "1s", "params": {"latency_ms": 100}},
                        {"id": "iso", "type": "isolate", "target": {"role": "replica"}, "at": "1s"}])
    path = tmp / "sigint.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp / "sigint-run"
    proc = subprocess.Popen([sys.executable, "-m", "drills", "run", str(path), "--out", str(out), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the drill ended early: {proc.stderr.read()[-500:]}")
        ev = out / "events.jsonl"
        if ev.exists() and sum('"phase":"inject"' in line for line in ev.read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    time.sleep(1)
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=600)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines() if line.strip()]
    healed = [e for e in events if e.get("kind") == "run" and e.get("name") == "healed_all"]
    print(f"faults.sigint_to_all_healed_s  {healed[0]['t'] - t0:6.2f}   (3 active faults: freeze, toxic, isolation)"
          if healed else "faults.sigint_to_all_healed_s  (no healed_all event)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="drills-bench-") as tmp:
        tmp_path = Path(tmp)
        path = tmp_path / "timing.yaml"
        path.write_text(yaml.safe_dump(SCENARIO))
        out = tmp_path / "timing-run"
        subprocess.run([sys.executable, "-m", "drills", "run", str(path), "--out", str(out), "--quiet"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        precision(out)
        sigint_to_healed(tmp_path)


if __name__ == "__main__":
    main()
