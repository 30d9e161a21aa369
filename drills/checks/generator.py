"""Was the load generator, not the system, the bottleneck? From stats.jsonl (summed across processes).

A drill whose generator could not offer the load it was asked for measures the generator: its latencies
and rates say nothing about the system, so the verdict becomes inconclusive. Saturated when either

* over the seconds the system was healthy (outside every fault from injection to 5 s after its heal, not in
  warmup, success ratio >= 0.95), the operations started were < 90 % of the profile's target rate; or
* a load process reported cpu_percent >= 95 in more than 20 % of the seconds.

Seconds of an outage are excluded from the rate test because an arrival-rate profile capped at `max_users`
legitimately falls behind while every user waits on a dead system; so are the seconds a remote worker's load
was missing (drills/checks/worker_health.py): the generator did not fall behind, a part of it was gone.
"""

from __future__ import annotations

import math

from drills.checks.window import RunWindow

RATE_FLOOR = 0.90
CPU_HOT = 95.0
CPU_HOT_SHARE = 0.20
HEALTHY_RATIO = 0.95
HEAL_GRACE_S = 5.0


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def per_second(stats: list[dict]) -> dict[int, dict]:
    """Sum the processes' lines of each second; cpu is the busiest process."""
    rows: dict[int, dict] = {}
    for s in stats:
        t = _num(s.get("t"))
        if t is None:
            continue
        r = rows.setdefault(int(math.floor(t)), {"ok": 0.0, "fail": 0.0, "info": 0.0, "offered": 0.0,
                                                  "target": None, "cpu": None, "users": 0.0})
        for k in ("ok", "fail", "info"):
            r[k] += _num(s.get(k)) or 0.0
        r["offered"] += _num(s.get("offered_rate")) or 0.0
        r["users"] += _num(s.get("users")) or 0.0
        target, cpu = _num(s.get("target_rate")), _num(s.get("cpu_percent"))
        if target is not None:
            r["target"] = (r["target"] or 0.0) + target
        if cpu is not None:
            r["cpu"] = cpu if r["cpu"] is None else max(r["cpu"], cpu)
    return rows


def _unhealthy(window: RunWindow) -> list[tuple[float, float]]:
    spans = [(f.injected_t, (f.healed_t if f.healed_t is not None else math.inf) + HEAL_GRACE_S)
             for f in window.faults if f.took_effect and f.injected_t is not None]
    warmup = window.phases.get("warmup") or []
    spans += [(max(a, window.t0 - 1.0), b) for a, b in warmup]
    return spans


def assess(stats: list[dict], window: RunWindow, unsure: list[tuple[float, float]] | None = None) -> dict:
    """Generator health: achieved/target rate over healthy seconds (outside the `unsure` load gaps too), CPU,
    and whether it saturated."""
    rows = per_second(stats)
    if not rows:
        return {"seconds": 0, "saturated": None, "reasons": ["no stats.jsonl lines: generator health unknown"]}
    bad = _unhealthy(window) + list(unsure or [])
    healthy = []
    for sec, r in rows.items():
        if sec + 1 <= window.t0 or sec >= window.t_end:
            continue
        done = r["ok"] + r["fail"] + r["info"]
        if any(a < sec + 1 and sec < b for a, b in bad) or not done or r["ok"] / done < HEALTHY_RATIO:
            continue
        healthy.append(r)
    with_target = [r for r in healthy if r["target"]]
    target = sum(r["target"] for r in with_target)
    achieved = sum(r["offered"] for r in with_target) / target if target else None
    cpu = [r["cpu"] for r in rows.values() if r["cpu"] is not None]
    hot_share = sum(c >= CPU_HOT for c in cpu) / len(cpu) if cpu else None
    reasons = []
    if achieved is not None and achieved < RATE_FLOOR:
        reasons.append(f"offered {achieved:.0%} of the target rate while the system was healthy "
                       f"(< {RATE_FLOOR:.0%}): the generator could not keep up")
    if hot_share is not None and hot_share > CPU_HOT_SHARE:
        reasons.append(f"a load process used >= {CPU_HOT:.0f}% CPU in {hot_share:.0%} of the seconds "
                       f"(> {CPU_HOT_SHARE:.0%})")
    return {
        "seconds": len(rows),
        "healthy_seconds": len(healthy),
        "target_rate_mean": round(target / len(with_target), 3) if with_target else None,
        "offered_rate_mean": round(sum(r["offered"] for r in with_target) / len(with_target), 3)
        if with_target else None,
        "achieved_ratio": None if achieved is None else round(achieved, 4),
        "cpu_max": max(cpu) if cpu else None,
        "cpu_hot_share": None if hot_share is None else round(hot_share, 4),
        "users_max": max(r["users"] for r in rows.values()),
        "saturated": bool(reasons),
        "reasons": reasons,
    }
