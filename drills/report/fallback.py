"""A stand-in for the parts of result.json the checks did not write (a crashed run has none at all).

Only what can be read straight off the record is filled in (identity, timing, availability from the
history); verdict, budgets and the data-loss audit are the checks' job and stay absent. Every filled-in
part is named in `derived` so the report can say so.
"""

from __future__ import annotations

import math
import shlex
from collections import Counter, defaultdict

from drills.report.fmt import as_float, epoch
from drills.report.sources import RunDir
from drills.report.timeline import Outage


def _first(*values: object) -> object:
    return next((v for v in values if v not in (None, "", [], {})), None)


def _run_event(run: RunDir, name: str) -> float | None:
    for e in run.events:
        if e.get("kind") == "run" and e.get("name") == name:
            return as_float(e.get("t"))
    return None


def command_line(meta: dict | None) -> str | None:
    """The command that re-runs the drill, from meta.json whatever the key is called."""
    meta = meta or {}
    for key in ("command", "command_line", "cmdline", "argv"):
        value = meta.get(key)
        if isinstance(value, list) and value:
            return shlex.join(str(v) for v in value)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _pct(sorted_ms: list[float], q: float) -> float | None:
    if not sorted_ms:
        return None
    return sorted_ms[min(len(sorted_ms) - 1, max(0, math.ceil(q * len(sorted_ms)) - 1))]


def availability_from_history(history: list[dict], outages: list[Outage]) -> dict:
    """Success ratio and latency of purchases (or of everything, without purchases), per operation counts."""
    per_op: dict[str, Counter] = defaultdict(Counter)
    for h in history:
        per_op[str(h.get("op") or "?")][h.get("outcome") if h.get("outcome") in ("ok", "fail", "info") else "info"] += 1
    main = [h for h in history if h.get("op") == "purchase"] or history
    counts = Counter(h.get("outcome") for h in main)
    total = sum(counts.values())
    lat = sorted((h["complete"] - h["invoke"]) * 1000.0 for h in main
                 if h.get("outcome") == "ok" and as_float(h.get("complete")) is not None
                 and as_float(h.get("invoke")) is not None)
    return {
        "success_ratio": counts["ok"] / total if total else None,
        "longest_outage_s": max((o.duration_s for o in outages), default=0.0 if total else None),
        "latency_ms": {"p50": _pct(lat, 0.50), "p95": _pct(lat, 0.95), "p99": _pct(lat, 0.99)},
        "per_op": {op: {"ok": c["ok"], "fail": c["fail"], "info": c["info"],
                        "success_ratio": c["ok"] / sum(c.values()) if sum(c.values()) else None}
                   for op, c in sorted(per_op.items())},
    }


def complete_result(run: RunDir, outages: list[Outage]) -> tuple[dict, list[str]]:
    """result.json with identity, timing and availability filled in from the raw files where absent."""
    result = dict(run.result or {})
    meta, scen = run.meta or {}, run.scenario or {}
    derived: list[str] = []
    fill = {
        "scenario": _first(meta.get("scenario"), meta.get("scenario_name"), scen.get("name"), run.path.name),
        "description": _first(scen.get("description"), meta.get("description")),
        "expected": _first(scen.get("expect"), "pass"),
        "run_id": _first(meta.get("run_id"), meta.get("id"), run.path.name),
        "seed": _first(meta.get("seed"), scen.get("seed")),
        "started": _first(meta.get("started"), _run_event(run, "started"), _run_event(run, "load_started")),
        "versions": meta.get("versions"),
        "images": meta.get("images") or meta.get("image_ids"),
    }
    for key, value in fill.items():
        if result.get(key) in (None, "", [], {}) and value is not None:
            result[key] = value
    if isinstance(result.get("scenario"), dict):  # some writers nest the scenario
        s = result["scenario"]
        result.setdefault("description", s.get("description"))
        result["scenario"] = s.get("name") or run.path.name
    if result.get("finished") is None:
        ends = [t for t in (_run_event(run, "finished"), _run_event(run, "audit_done"), _last_stamp(run)) if t]
        if ends:
            result["finished"] = ends[0]
    if as_float(result.get("duration_s")) is None:
        a, b = epoch(result.get("started")), epoch(result.get("finished"))
        if a is not None and b is not None and b >= a:
            result["duration_s"] = b - a
            derived.append("duration_s")
    avail = result.get("availability")
    if not isinstance(avail, dict) or not avail:
        if run.history:
            result["availability"] = availability_from_history(run.history, outages)
            derived.append("availability")
    else:
        # The per-op table is cheap to derive and helps readers; the checks' numbers are never overwritten.
        if not avail.get("per_op") and run.history:
            avail = dict(avail)
            avail["per_op"] = availability_from_history(run.history, outages)["per_op"]
            result["availability"] = avail
            derived.append("availability.per_op")
    return result, derived


def _last_stamp(run: RunDir) -> float | None:
    stamps = [as_float(r.get("t")) for r in run.events[-5:] + run.probes[-5:] + run.stats[-5:]]
    stamps += [max((as_float(h.get("complete")) or 0.0 for h in run.history), default=None)]
    known = [s for s in stamps if s is not None]
    return max(known) if known else None
