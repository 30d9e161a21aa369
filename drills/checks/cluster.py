"""What the probes saw of the cluster over time, as spans for result.json's `cluster` (the report draws them).

Each probe (probes.jsonl) is trusted from its own time to the next probe's, for at most PROBE_GAP_S: a longer
gap is shown as no data, not papered over. Consecutive probes that agree are merged into one span.
"""

from __future__ import annotations

from typing import Any

from drills.checks.probes import sorted_probes
from drills.checks.window import RunWindow

PROBE_GAP_S = 2.0     # a probe is trusted for this long
LAST_PROBE_S = 0.5    # ... and the last one for this long
MIN_SPAN_S = 0.05
STATES = ("leader", "leader_unprotected", "sync_standby", "replica", "unknown", "up", "lb_down", "down", "frozen")


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
        return str(role)
    if info.get("lb") == "DOWN":
        return "lb_down"
    if role in (None, "unknown") and "patroni_state" in info:
        return "unknown"
    return "up"


def _spans(probes: list[dict], window: RunWindow) -> list[tuple[float, float, dict]]:
    """(start offset, end offset, probe) of every probe with a `nodes` map."""
    stamped = [p for p in sorted_probes(probes) if isinstance(p.get("nodes"), dict)]
    out = []
    for i, p in enumerate(stamped):
        t = float(p["t"])
        nxt = float(stamped[i + 1]["t"]) if i + 1 < len(stamped) else t + LAST_PROBE_S
        out.append((t - window.t0, t - window.t0 + max(MIN_SPAN_S, min(nxt - t, PROBE_GAP_S)), p))
    return out


def _merge(rows: list[dict[str, Any]], row: dict[str, Any], same: tuple[str, ...]) -> None:
    last = rows[-1] if rows else None
    if last is not None and all(last[k] == row[k] for k in same) and abs(last["end_s"] - row["start_s"]) < 1e-6:
        last["end_s"] = row["end_s"]
    else:
        rows.append(row)


def timeline(probes: list[dict], window: RunWindow) -> dict[str, Any]:
    """{"nodes": {node: [{start_s, end_s, state, cut_off}]}, "leader": [{start_s, end_s, leader}]}, offsets
    rounded to the millisecond."""
    nodes: dict[str, list[dict[str, Any]]] = {}
    leader: list[dict[str, Any]] = []
    for start, end, p in _spans(probes, window):
        cut: list = p["cut_off"] if isinstance(p.get("cut_off"), list) else []
        for name, info in p["nodes"].items():
            state = node_state(info) if isinstance(info, dict) else "unknown"
            _merge(nodes.setdefault(str(name), []),
                   {"start_s": start, "end_s": end, "state": state, "cut_off": name in cut}, ("state", "cut_off"))
        who = p.get("leader")
        _merge(leader, {"start_s": start, "end_s": end, "leader": who if isinstance(who, str) else None},
               ("leader",))
    for row in [r for rows in nodes.values() for r in rows] + leader:
        row["start_s"], row["end_s"] = round(row["start_s"], 3), round(row["end_s"], 3)
    return {"nodes": nodes, "leader": leader}
