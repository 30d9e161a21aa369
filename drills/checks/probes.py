"""What the cluster itself did, from probes.jsonl: failovers and fault detection.

failover: the old leader is *gone* at the first probe where its container is not running, its role is no
longer `leader` or another node is reported leader — or earlier, when a fault aimed at that node was injected
before and still held then: a frozen or isolated leader still looks like the leader to the cluster until its
lock expires, but it stopped serving at the fault. The failover *completes* at the first later probe
naming a running leader, and buyers see it at the first acknowledged purchase completing after that.
Both parts are reported; `failover_s` is the sum (gone -> first purchase). A "leader" that is the old one
again without its container ever stopping is a probe glitch, not a failover.

detection: from an injection to the first probe where HAProxy marks a target DOWN (that was not DOWN just
before) or a target's Patroni role differs from its role just before the injection. Probes are taken at
least every 500 ms, so both numbers carry that resolution.

A probe is held against what the checks read of it once, as the run is read (conform_probe()): without a
time it is skipped, a `leader` that is not text is null, a `nodes` that is not an object is empty, and a node
entry that is not an object is left out of that probe (the probe says nothing of that node then).
"""

from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np

from drills.checks.damage import MISSING, MOMENT, Issue, epoch, label
from drills.checks.window import FaultRecord, RunWindow


def _t(p: dict) -> float | None:
    return epoch(p.get("t"))


def _node(p: dict, name: object) -> dict:
    nodes = p.get("nodes")
    node = nodes.get(name) if isinstance(nodes, dict) and isinstance(name, str) and name else None
    return node if isinstance(node, dict) else {}


def conform_probe(p: dict) -> tuple[dict | None, list[Issue]]:
    """(`p` as the checks read a probe -- or None when it has no usable time; what was wrong, see above)."""
    t = _t(p)
    if t is None:
        return None, [("t", f"`t` not {MOMENT}: probe skipped", p.get("t", MISSING))]
    issues: list[Issue] = []
    out = {**p, "t": t}
    leader = p.get("leader")
    if leader is not None and not isinstance(leader, str):
        issues.append(("leader", "`leader` not text: read as null", leader))
        out["leader"] = None
    nodes = p.get("nodes")
    if nodes is not None and not isinstance(nodes, dict):
        issues.append(("nodes", "`nodes` not an object: read as empty", nodes))
        out["nodes"] = {}
    elif nodes is not None and not all(isinstance(info, dict) for info in nodes.values()):
        kept = {}
        for name, info in nodes.items():
            if isinstance(info, dict):
                kept[name] = info
            else:
                issues.append(("nodes", f"`nodes.{label(name)}` not an object: that node left out", info))
        out["nodes"] = kept
    return out, issues


def sorted_probes(probes: list[dict]) -> list[dict]:
    """The probes with a time, in time order (each as conform_probe() reads it)."""
    kept = (conform_probe(p)[0] for p in probes if isinstance(p, dict))
    return sorted((p for p in kept if p is not None), key=lambda p: p["t"])


def _leader_gone(p: dict, leader: str) -> bool:
    node = _node(p, leader)
    return (node.get("container", "running") != "running" or node.get("role", "leader") != "leader"
            or (p.get("leader") is not None and p.get("leader") != leader))


def _live_leader(p: dict) -> str | None:
    name = p.get("leader")
    if not name or not isinstance(name, str):
        return None
    node = _node(p, name)
    if node.get("container", "running") != "running" or node.get("role", "leader") != "leader":
        return None
    return name


def failovers(probes: list[dict], ok_purchases: np.ndarray, window: RunWindow) -> list[dict]:
    """Every leader change seen by the probes, with its two parts (see the module docstring)."""
    out: list[dict] = []
    current: str | None = None
    gone_t: float | None = None
    since = -math.inf  # the previous leader change: faults before it belong to that one
    container_stopped = False
    for p in probes:
        t = p["t"]
        if current is None:
            current = _live_leader(p)
            continue
        if gone_t is None:
            if t <= window.t_end and _leader_gone(p, current):
                gone_t = t
                container_stopped = _node(p, current).get("container", "running") != "running"
            continue
        container_stopped = container_stopped or _node(p, current).get("container", "running") != "running"
        new = _live_leader(p)
        if new is None:
            continue
        if new == current and not container_stopped:  # a blip in the probe, not a failover
            gone_t = None
            continue
        j = int(np.searchsorted(ok_purchases, t, "left"))
        first = float(ok_purchases[j]) if j < len(ok_purchases) else None
        out.append(_failover_row(window, current, new, gone_t, t, first, since))
        since, current, gone_t, container_stopped = t, new, None, False
    if gone_t is not None and probes:
        out.append(_failover_row(window, current, None, gone_t, None, None, since))
    return out


def _struck_by(window: RunWindow, leader: str | None, seen_gone: float, since: float) -> FaultRecord | None:
    """The latest fault aimed at `leader`, injected after the previous leader change and before the probes
    saw it gone, and not healed by then: the moment the leader really stopped serving."""
    found: FaultRecord | None = None
    found_t = -math.inf
    for f in window.faults:
        t = f.injected_t
        if not f.took_effect or t is None or not (since < t <= seen_gone):
            continue
        if f.healed_t is not None and f.healed_t < seen_gone:
            continue
        targets = f.target if isinstance(f.target, list) else [f.target]
        if any(isinstance(x, dict) and x.get("service") == leader for x in targets):
            if t > found_t:
                found, found_t = f, t
    return found


def _failover_row(window: RunWindow, old: str | None, new: str | None, seen_gone: float, elected: float | None,
                  first: float | None, since: float = -math.inf) -> dict:
    fault = _struck_by(window, old, seen_gone, since)
    struck = fault.injected_t if fault is not None else None   # never None: _struck_by skips those
    gone = min(seen_gone, struck) if struck is not None else seen_gone
    return {
        "old_leader": old, "new_leader": new,
        "gone_s": window.offset(gone), "seen_gone_s": window.offset(seen_gone),
        "fault_id": fault.id if fault is not None else None, "new_leader_s": window.offset(elected),
        "first_purchase_s": window.offset(first),
        "election_s": None if elected is None else round(elected - gone, 3),
        "to_first_purchase_s": None if first is None or elected is None else round(first - elected, 3),
        # no purchase after it before load stop: a lower bound, marked censored
        "failover_s": round((first if first is not None else max(window.t_end, gone)) - gone, 3),
        "censored": first is None,
    }


def fault_services(fault: FaultRecord, node_names: set[str]) -> list[str]:
    """The probed services a fault aims at: its target's service (or container), or the nodes a
    Toxiproxy link names (`api1_db` -> api1; `lb_api2` -> api2)."""
    target = fault.target or {}
    names = []
    if isinstance(target, dict):
        for key in ("service", "container"):
            if target.get(key):
                names.append(str(target[key]))
        for svc in target.get("services") or []:
            names.append(str(svc))
    if fault.link:
        names += [part for part in str(fault.link).split("_") if part]
    found = [n for n in names if n in node_names]
    for n in names:  # a container name: drills-<stack>-<service>
        for node in node_names:
            if node not in found and n.endswith(f"-{node}"):
                found.append(node)
    return found


def detection(fault: FaultRecord, probes: list[dict], window: RunWindow) -> dict:
    """Seconds from injection to the first probe that shows the fault (censored at heal/probe end)."""
    row = {"fault_id": fault.id, "iteration": fault.iteration, "targets": [], "detection_s": None,
           "how": None, "censored": False}
    t = fault.injected_t
    if t is None or not fault.took_effect or not probes:
        return row
    times = [p["t"] for p in probes]
    i = bisect_left(times, t)
    before = probes[i - 1] if i > 0 else None
    names = set()
    for p in probes[max(0, i - 1):i + 1]:
        nodes = p.get("nodes")
        names |= set(nodes.keys()) if isinstance(nodes, dict) else set()
    targets = fault_services(fault, names)
    row["targets"] = targets
    if not targets:
        return row
    base = {n: _node(before, n) if before else {} for n in targets}
    end = fault.healed_t if fault.healed_t is not None else math.inf
    for p in probes[i:]:
        if p["t"] > end:
            break
        for n in targets:
            node, was = _node(p, n), base[n]
            if node.get("lb") == "DOWN" and was.get("lb") != "DOWN":
                return {**row, "detection_s": round(p["t"] - t, 3), "how": f"{n} DOWN in HAProxy"}
            if was.get("role") and node.get("role") and node.get("role") != was.get("role"):
                return {**row, "detection_s": round(p["t"] - t, 3),
                        "how": f"{n} role {was.get('role')} -> {node.get('role')}"}
    last = min(end, times[-1])
    return {**row, "detection_s": round(max(0.0, last - t), 3), "censored": True, "how": "not detected"}
