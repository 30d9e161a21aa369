"""The run on one time axis (seconds from the start of load): phases, fault intervals, per-second load,
outages and node roles. Computed from the raw files so a report exists even when result.json does not.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from drills.report.fmt import as_float, dict_at, epoch
from drills.report.sources import RunDir

# A stamp larger than this is epoch seconds, smaller is an offset from the start of load.
_EPOCH_THRESHOLD = 1e8
PROBE_GAP_S = 2.0  # a probe is trusted for this long; beyond it the role timeline shows "no data"


@dataclass
class Phase:
    name: str
    start_s: float
    end_s: float


@dataclass
class FaultInterval:
    """One injection of one fault (a repeated fault has one interval per iteration)."""

    fault_id: str
    iteration: int
    type: str
    target: str
    scheduled_s: float | None
    start_s: float | None       # injected
    end_s: float | None         # healed; None when never healed (crash)
    ok: bool | None
    error: str | None
    heal_ok: bool | None = None
    heal_error: str | None = None

    @property
    def key(self) -> str:
        """A stable id for HTML/SVG: fault id and iteration with unsafe characters replaced."""
        return f"{re.sub(r'[^A-Za-z0-9_-]+', '_', self.fault_id)}-{self.iteration}"


@dataclass
class Outage:
    op: str
    start_s: float
    end_s: float
    open: bool = False  # still going when the record ends

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class RoleSegment:
    start_s: float
    width_s: float
    state: str          # leader, leader_unprotected, sync_standby, replica, unknown, up, lb_down, down, frozen
    cut_off: bool = False


def to_offset(value: object, t0: float | None) -> float | None:
    """Seconds from the start of load, whether the value is an epoch stamp or already an offset."""
    f = as_float(value)
    if f is None:
        f = epoch(value)
    if f is None:
        return None
    if f > _EPOCH_THRESHOLD:
        return None if t0 is None else f - t0
    return f


def origin(run: RunDir) -> float | None:
    """The epoch of `load_started` (offsets count from it), else the earliest stamp any file has."""
    for name in ("load_started", "started"):
        for e in run.events:
            if e.get("kind") == "run" and e.get("name") == name and as_float(e.get("t")) is not None:
                return float(e["t"])
    candidates = [as_float(h.get("invoke")) for h in run.history[:2000]]
    candidates += [as_float(s.get("t")) for s in run.stats[:50]] + [as_float(p.get("t")) for p in run.probes[:50]]
    candidates += [as_float(e.get("t")) for e in run.events[:50]]
    known = [c for c in candidates if c is not None and c > _EPOCH_THRESHOLD]
    return min(known) if known else None


def phases(run: RunDir) -> list[Phase]:
    """Phases from events.jsonl, else from the scenario's `phases:` durations."""
    out = []
    for e in run.events:
        if e.get("kind") == "phase":
            start, end = as_float(e.get("start_s")), as_float(e.get("end_s"))
            if start is not None and end is not None:
                out.append(Phase(str(e.get("name", "?")), start, end))
    if out:
        return out
    spec = (run.scenario or {}).get("phases")
    if isinstance(spec, dict):
        t = 0.0
        for name in ("warmup", "steady", "recovery"):
            d = _duration(spec.get(name))
            if d:
                out.append(Phase(name, t, t + d))
                t += d
    return out


def _duration(value: object) -> float | None:
    try:
        from drills.scenario.durations import parse_duration
        return parse_duration(value)
    except Exception:  # noqa: BLE001 - a scenario typo must not stop a report
        return as_float(value)


def _target_label(target: object, link: object) -> str:
    if isinstance(target, dict):
        service = target.get("service") or target.get("container")
        role = target.get("role")
        if service and role:
            return f"{service} ({role})"
        return str(service or role or "—")
    if isinstance(target, list):
        return ", ".join(_target_label(t, None) for t in target)
    if target:
        return str(target)
    return f"link {link}" if link else "—"


def _action_span(e: dict, t0: float | None) -> tuple[float | None, float | None]:
    """(start, end) offsets of an action that takes a while (restore_cluster's `data.restore`), else Nones."""
    data = dict_at(e, "data")
    restore = dict_at(data, "restore")
    return to_offset(restore.get("started"), t0), to_offset(restore.get("finished"), t0)


def fault_intervals(run: RunDir, t0: float | None) -> list[FaultInterval]:
    """Inject/heal pairs from events.jsonl (paired by fault id and iteration); else result.json's faults.

    A restore_cluster action is drawn as the restore itself, from `data.restore.started` to `finished` (its
    inject line is written when it has finished; its heal line has nothing to heal)."""
    by_key: dict[tuple[str, int], FaultInterval] = {}
    order: list[tuple[str, int]] = []
    acted: set[tuple[str, int]] = set()   # actions whose interval is their own start and finish
    for e in run.events:
        if e.get("kind") != "fault":
            continue
        fid = str(e.get("fault_id") or "?")
        it = int(as_float(e.get("iteration")) or 0)
        offset = as_float(e.get("offset_s"))
        if offset is None:
            offset = to_offset(e.get("t"), t0)
        key = (fid, it)
        if e.get("phase") == "inject":
            target = _target_label(e.get("target"), e.get("link"))
            started, finished = _action_span(e, t0)
            by_key[key] = FaultInterval(fid, it, str(e.get("type") or "?"), target, as_float(e.get("scheduled_s")),
                                        started if started is not None else offset, None, e.get("ok"),
                                        e.get("error"))
            if started is not None and finished is not None:
                by_key[key].end_s, by_key[key].heal_ok = finished, True
                acted.add(key)
            order.append(key)
        elif e.get("phase") == "heal" and key in by_key and key not in acted:
            f = by_key[key]
            f.end_s, f.heal_ok, f.heal_error = offset, e.get("ok"), e.get("error")
    if order:
        return [by_key[k] for k in order]
    out = []
    seen: dict[str, int] = defaultdict(int)
    for f in (run.result or {}).get("faults") or []:
        if not isinstance(f, dict):
            continue
        fid = str(f.get("id") or f.get("fault_id") or "?")
        it = int(as_float(f.get("iteration")) or seen[fid])
        seen[fid] += 1
        out.append(FaultInterval(fid, it, str(f.get("type") or "?"), _target_label(f.get("target"), f.get("link")),
                                 to_offset(f.get("scheduled_s"), t0), to_offset(f.get("injected_s"), t0),
                                 to_offset(f.get("healed_s"), t0), f.get("ok"), f.get("error")))
    return out


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


def series_from_history(history: list[dict], t0: float) -> list[dict]:
    """Per-second counts (by completion time) and latency percentiles of acknowledged operations (as the
    checks compute them, so a re-rendered crashed run reads the same as a judged one)."""
    buckets: dict[int, dict] = {}
    latencies: dict[int, list[float]] = defaultdict(list)
    for h in history:
        done, start = as_float(h.get("complete")), as_float(h.get("invoke"))
        if done is None:
            continue
        sec = int(math.floor(done - t0))
        b = buckets.setdefault(sec, {"ok": 0, "fail": 0, "info": 0})
        outcome = h.get("outcome")
        b[outcome if outcome in ("ok", "fail", "info") else "info"] += 1
        if outcome == "ok" and start is not None and done >= start:
            latencies[sec].append((done - start) * 1000.0)
    rows = []
    for sec, b in buckets.items():
        lat = sorted(latencies.get(sec, []))
        total = b["ok"] + b["fail"] + b["info"]
        rows.append({"t": float(sec), **b, "p50_ms": _percentile(lat, 0.5), "p99_ms": _percentile(lat, 0.99),
                     "success_ratio": b["ok"] / total if total else None})
    return _dense(rows)


def series_from_stats(stats: list[dict], t0: float) -> list[dict]:
    """Per-second sums across load processes, for runs that have stats.jsonl but no history."""
    buckets: dict[int, dict] = {}
    for s in stats:
        t = to_offset(s.get("t"), t0)
        if t is None:
            continue
        b = buckets.setdefault(int(math.floor(t)), {"ok": 0, "fail": 0, "info": 0, "p50": [], "p99": []})
        for k in ("ok", "fail", "info"):
            b[k] += int(as_float(s.get(k)) or 0)
        for k in ("p50", "p99"):
            v = as_float(s.get(f"{k}_ms"))
            if v is not None:
                b[k].append(v)
    rows = []
    for sec, b in buckets.items():
        total = b["ok"] + b["fail"] + b["info"]
        rows.append({"t": float(sec), "ok": b["ok"], "fail": b["fail"], "info": b["info"],
                     "p50_ms": max(b["p50"]) if b["p50"] else None, "p99_ms": max(b["p99"]) if b["p99"] else None,
                     "success_ratio": b["ok"] / total if total else None})
    return _dense(rows)


def normalize_series(series: list, t0: float | None) -> list[dict]:
    """result.json's series with offsets for `t` (epoch stamps converted), missing keys as zero/None."""
    rows = []
    for r in series:
        if not isinstance(r, dict):
            continue
        t = to_offset(r.get("t"), t0)
        if t is None:
            continue
        row: dict[str, Any] = {"t": t, **{k: int(as_float(r.get(k)) or 0) for k in ("ok", "fail", "info")},
               "p50_ms": as_float(r.get("p50_ms")), "p99_ms": as_float(r.get("p99_ms")),
               "success_ratio": as_float(r.get("success_ratio"))}
        if row["success_ratio"] is None and row["ok"] + row["fail"] + row["info"]:
            row["success_ratio"] = row["ok"] / (row["ok"] + row["fail"] + row["info"])
        rows.append(row)
    return sorted(rows, key=lambda r: r["t"])


def _dense(rows: list[dict]) -> list[dict]:
    """Fill seconds without any operation with zeros, so a stall shows as a drop, not as an interpolation."""
    if not rows:
        return []
    by_t = {int(r["t"]): r for r in rows}
    lo, hi = min(by_t), max(by_t)
    empty = {"ok": 0, "fail": 0, "info": 0, "p50_ms": None, "p99_ms": None, "success_ratio": None}
    return [by_t.get(s, {"t": float(s), **empty}) for s in range(lo, hi + 1)]


def outages_from_result(items: list, t0: float | None) -> list[Outage]:
    out = []
    for o in items:
        if not isinstance(o, dict):
            continue
        start, end = to_offset(o.get("start"), t0), to_offset(o.get("end"), t0)
        if start is None:
            continue
        if end is None:
            d = as_float(o.get("duration_s"))
            end = start + d if d is not None else start
        out.append(Outage(str(o.get("op") or "all"), start, end, bool(o.get("open")) or o.get("end") is None))
    return out


def derive_outages(history: list[dict], t0: float, op: str = "purchase", min_gap_s: float = 1.0) -> list[Outage]:
    """Windows with no successful `op` while attempts failed: from the last success before the first failure
    to the next success (the buyers' view; the same definition as the demo's longest gap)."""
    ops = [h for h in history if h.get("op") == op] or history
    op_name = op if any(h.get("op") == op for h in history) else "all"
    timed = sorted((float(h["complete"]), h.get("outcome")) for h in ops if as_float(h.get("complete")) is not None)
    out: list[Outage] = []
    last_ok: float | None = None
    failing_since: float | None = None
    for t, outcome in timed:
        if outcome == "ok":
            if failing_since is not None:
                start = last_ok if last_ok is not None else failing_since
                if t - start >= min_gap_s:
                    out.append(Outage(op_name, start - t0, t - t0))
                failing_since = None
            last_ok = t
        elif failing_since is None:
            failing_since = t
    if failing_since is not None and timed:
        start = last_ok if last_ok is not None else failing_since
        if timed[-1][0] - start >= min_gap_s:
            out.append(Outage(op_name, start - t0, timed[-1][0] - t0, open=True))
    return out


def _node_order(name: str) -> tuple:
    groups = ("pg", "api", "haproxy", "etcd")
    prefix = next((i for i, g in enumerate(groups) if name.startswith(g)), len(groups))
    return (prefix, [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)])


def node_state(info: dict) -> str:
    """One word for a node at one probe: down and frozen win over the role they last had."""
    container = info.get("container")
    if container in ("exited", "missing", "dead", "removing"):
        return "down"
    if container == "paused":
        return "frozen"
    role = info.get("role")
    if role == "leader" and info.get("protected") is False:
        return "leader_unprotected"   # strict synchronous mode: losing it now stops writes (no one may promote)
    if role in ("leader", "sync_standby", "replica"):
        return role
    if info.get("lb") == "DOWN":
        return "lb_down"
    if role in (None, "unknown") and "patroni_state" in info:
        return "unknown"
    return "up"


def role_segments(probes: list[dict], t0: float | None) -> dict[str, list[RoleSegment]]:
    """Per node, merged runs of the same state between probes (a gap over PROBE_GAP_S shows as no data)."""
    offsets = ((to_offset(p.get("t"), t0), p) for p in probes)
    stamped = sorted(((t, p) for t, p in offsets if t is not None and isinstance(p.get("nodes"), dict)),
                     key=lambda x: x[0])
    segs: dict[str, list[RoleSegment]] = defaultdict(list)
    for i, (t, p) in enumerate(stamped):
        nxt = stamped[i + 1][0] if i + 1 < len(stamped) else t + 0.5
        width = max(0.05, min(nxt - t, PROBE_GAP_S))
        cut = set(p.get("cut_off") or [])
        for node, info in p["nodes"].items():
            state = node_state(info) if isinstance(info, dict) else "unknown"
            lst = segs[str(node)]
            if lst and lst[-1].state == state and lst[-1].cut_off == (node in cut) and \
                    abs(lst[-1].start_s + lst[-1].width_s - t) < 1e-6:
                lst[-1].width_s += width
            else:
                lst.append(RoleSegment(t, width, state, node in cut))
    return {k: segs[k] for k in sorted(segs, key=_node_order)}


def leader_segments(probes: list[dict], t0: float | None) -> list[tuple[float, float, str | None]]:
    """(start, width, leader) runs: which node held the Patroni leader lock when (None = no leader)."""
    out: list[list] = []
    stamped = sorted((t, p) for t, p in ((to_offset(p.get("t"), t0), p) for p in probes) if t is not None)
    for i, (t, p) in enumerate(stamped):
        nxt = stamped[i + 1][0] if i + 1 < len(stamped) else t + 0.5
        width = max(0.05, min(nxt - t, PROBE_GAP_S))
        leader = p.get("leader")
        if out and out[-1][2] == leader and abs(out[-1][0] + out[-1][1] - t) < 1e-6:
            out[-1][1] += width
        else:
            out.append([t, width, leader])
    return [tuple(x) for x in out]


def generator_series(stats: list[dict], t0: float | None) -> list[dict]:
    """Per second: offered and target rate summed over load processes, the busiest process's CPU."""
    b: dict[int, dict] = {}
    for s in stats:
        t = to_offset(s.get("t"), t0)
        if t is None:
            continue
        row = b.setdefault(int(math.floor(t)), {"offered": 0.0, "target": None, "cpu": None, "users": 0})
        row["offered"] += as_float(s.get("offered_rate")) or 0.0
        target = as_float(s.get("target_rate"))
        if target is not None:
            row["target"] = (row["target"] or 0.0) + target
        cpu = as_float(s.get("cpu_percent"))
        if cpu is not None:
            row["cpu"] = max(row["cpu"] or 0.0, cpu)
        row["users"] += int(as_float(s.get("users")) or 0)
    return [{"t": float(k), **v} for k, v in sorted(b.items())]
