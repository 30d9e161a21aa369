"""Harness side: the last seconds of stats.jsonl as one aggregate, for the live console and aborts.

Reads only the tail of the file (it grows by one line per second per load process), sums the processes'
lines and tolerates a line being written right now (a truncated last line is ignored).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from drills.rundir import files

TAIL_CHUNK = 64 * 1024


def _tail_records(path: Path, since: float) -> list[dict]:
    """Complete lines with t >= since, reading backwards from the end only as far as needed."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return []
    chunk = TAIL_CHUNK
    while True:
        start = max(0, size - chunk)
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(size - start)
        lines = data.split(b"\n")
        if start > 0:
            lines = lines[1:]  # the first line may begin mid-record
        if not data.endswith(b"\n"):
            lines = lines[:-1]  # being written right now
        records = []
        for raw in lines:
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("t"), (int, float)):
                records.append(rec)
        if start == 0 or (records and min(r["t"] for r in records) < since):
            return [r for r in records if r["t"] >= since]
        chunk *= 4


def live_stats(run_dir: Path, since: float) -> dict:
    """Aggregate of every stats line with t >= `since` (epoch seconds), all load processes together:
    rps (answers per second), error_pct (fail + info among answers, percent; None without answers),
    fail_pct, info_pct, p99_ms (the worst second's p99: percentiles do not add up, so the conservative
    one), offered_rate and target_rate (per second, summed over processes; target None for closed-model
    profiles), dropped (operations the pool could not start), users, cpu_percent (busiest process),
    seconds (how many seconds the aggregate covers)."""
    records = _tail_records(Path(run_dir) / files.STATS, since)
    seconds = sorted({r["t"] for r in records})
    n = len(seconds)
    total = sum(int(r.get("requests") or 0) for r in records)
    fail = sum(int(r.get("fail") or 0) for r in records)
    info = sum(int(r.get("info") or 0) for r in records)
    p99s = [r["p99_ms"] for r in records if r.get("p99_ms") is not None]
    targets = [r["target_rate"] for r in records if r.get("target_rate") is not None]
    last = [r for r in records if r["t"] == seconds[-1]] if seconds else []
    cpus = [r["cpu_percent"] for r in records if r.get("cpu_percent") is not None]
    return {
        "seconds": n,
        "requests": total,
        "rps": round(total / n, 2) if n else 0.0,
        "error_pct": round(100.0 * (fail + info) / total, 2) if total else None,
        "fail_pct": round(100.0 * fail / total, 2) if total else None,
        "info_pct": round(100.0 * info / total, 2) if total else None,
        "p99_ms": max(p99s) if p99s else None,
        "offered_rate": round(sum(float(r.get("offered_rate") or 0) for r in records) / n, 2) if n else 0.0,
        "target_rate": round(sum(targets) / n, 2) if targets else None,
        "dropped": sum(int(r.get("dropped") or 0) for r in records),
        "users": sum(int(r.get("users") or 0) for r in last),
        "cpu_percent": max(cpus) if cpus else None,
    }
