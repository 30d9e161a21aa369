"""Zones and load balancers as the clients saw them: result.json's `zones` (present only when the run recorded
a placement over two zones or more: docs/run-directory.md, the `zones` event).

* Per zone: the operations its API replicas served (by the history's `replica`, the X-Replica header), per
  second of the load window and as a share of all attributed ones, and the longest gap in serving *while no
  fault targeted the zone* — a zone powered off or shifted away is expected to serve nothing, so the fault's
  interval (inject to heal) is cut out of the gaps; what remains after the heal is the zone's own return.
  A fault targets a zone when its target names the zone (`zone`), or a node, service or Toxiproxy link of it.
* Per load balancer (the history's `lb`, the X-LB header): operations through it, and the longest outage
  seen through it, by availability's own definition (drills/checks/availability.py) applied to its operations.
* The virtual IP: who held it over time (probes' `lb_active`) and each move, with the client's gap across it
  (last served operation through the old holder to the first through the new one).
* The Patroni leader's zone over time (the cluster's leader spans, through the placement).

"Served" is availability's: acknowledged, or refused on the merits (a 409 is the system answering).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path
from typing import Any

from drills.checks.availability import Availability
from drills.checks.cluster import LAST_PROBE_S, PROBE_GAP_S
from drills.checks.history import OUTCOMES, History, Times, _rejected
from drills.checks.window import FaultRecord, Interval, RunWindow, merge, subtract
from drills.checks.worker_clock import corrected, history_shifts
from drills.rundir.codec import DECODE_ERRORS, loads
from drills.scenario.model import SLO

ROUTED = "routed"             # the one op of _history_of()
ZONES_EVENT = "zones"          # events.jsonl: {"kind": "run", "name": "zones", "zones": {service: letter}}


def placement(events: list[dict]) -> dict[str, str]:
    """service -> zone from the run's last `zones` event (empty when it has none or it is damaged)."""
    for e in reversed(events):
        if e.get("kind") == "run" and e.get("name") == ZONES_EVENT:
            zones = e.get("zones")
            if isinstance(zones, dict):
                return {str(s): z for s, z in zones.items() if isinstance(z, str) and z}
            return {}
    return {}


Route = tuple[float, float, str, str | None, str | None]   # complete, invoke, outcome, replica, lb


def read_routes(paths: Iterable[Path], window: RunWindow, events: list[dict]) -> list[Route]:
    """One pass over the history files for `replica` and `lb` (the audit's reader keeps neither), remote
    workers' times put on the master's clock like the history reader does (worker_clock): each operation invoked
    in the load window as (complete, invoke, outcome, replica, lb), outcome "ok" meaning served (refusals on the
    merits too). Lines the history reader skips are skipped here too, silently: it has noted them already."""
    out: list[Route] = []
    append = out.append
    lo, hi = window.t0, window.t_end
    paths = list(paths)
    shifts = history_shifts(paths, events)
    for path in paths:
        shift = shifts.get(Path(path), 0.0)
        try:
            f = Path(path).open("rb")
        except OSError:
            continue
        with f:
            for line in f:
                try:
                    d = loads(line)
                    c, i, outcome = d["complete"], d["invoke"], d["outcome"]
                    if shift:
                        c, i = corrected(c, shift), corrected(i, shift)
                    if not lo <= i <= hi or type(c) not in _NUMBER:
                        continue
                except DECODE_ERRORS:
                    continue
                except (KeyError, TypeError):   # not an object, a field missing or not a number
                    continue
                if outcome == "fail":
                    if _rejected(d):
                        outcome = "ok"
                elif outcome != "ok" and outcome != "info":
                    outcome = "info"
                replica, lb = d.get("replica"), d.get("lb")
                append((float(c), float(i), outcome, replica if type(replica) is str and replica else None,
                        lb if type(lb) is str and lb else None))
    return out


_NUMBER = (int, float)


def _history_of(ops: list[tuple[float, float, str]], window: RunWindow) -> History:
    """Operations (complete, invoke, outcome) as a History of one op, so availability's outage definition applies
    as is."""
    h = History()
    for outcome in OUTCOMES:
        h.raw[(ROUTED, outcome)] = Times()
    raw = h.raw
    for c, i, outcome in ops:
        raw[(ROUTED, outcome)].add(c, i)
    h.finish(window.t0, window.t_end)
    return h


def _longest_through(av: Availability, last_answer: float) -> tuple[float, float, bool] | None:
    """The longest outage through one LB (start, end, open): availability's, except that one still open at load
    stop ends at the LB's last answer: once the VIP moved away, clients stopped trying through it."""
    best: tuple[float, float, bool] | None = None
    for o in av.outages(ROUTED):
        end = min(o.end, max(o.start, last_answer)) if o.open else o.end
        if best is None or end - o.start > best[1] - best[0]:
            best = (o.start, end, o.open)
    return best


def longest_gap(times: list[float], t0: float, t_end: float, cut: list[Interval]) -> Interval | None:
    """The longest stretch of [t0, t_end] with no time of sorted `times` in it, outside the intervals `cut`."""
    marks = [t0] + times[bisect_right(times, t0):bisect_left(times, t_end)] + [t_end]
    best: Interval | None = None
    longest = -1.0
    for a, b in zip(marks, marks[1:], strict=False):
        if b - a <= longest:        # what is cut out only shortens it: it cannot win
            continue
        for x, y in subtract([(a, b)], cut) if cut else ((a, b),):
            if y - x > longest:
                best, longest = (x, y), y - x
    return best


def _leader_at(probes: list[dict], t: float) -> str | None:
    times = [float(p["t"]) for p in probes]
    k = bisect_left(times, t + 1e-9) - 1
    while k >= 0:
        who = probes[k].get("leader")
        if isinstance(who, str):
            return who
        k -= 1
    return None


def fault_zones(f: FaultRecord, where: dict[str, str], probes: list[dict]) -> set[str]:
    """The zones a fault targeted: a zone it names or resolved (its inject line's `data.zone`), or the zone of a
    node, service or link it names."""
    letters = set(where.values())
    found: set[str] = set()

    def visit(target: object) -> None:
        if isinstance(target, list):
            for t in target:
                visit(t)
            return
        if not isinstance(target, dict):
            return
        zone = target.get("zone")
        if zone in letters:
            found.add(str(zone))
        elif zone == "leader" and f.injected_t is not None and f.data.get("zone") not in letters:
            leader = _leader_at(probes, f.injected_t)
            if leader in where:
                found.add(where[leader])
        for key in ("service", "container", "node"):
            name = target.get(key)
            if isinstance(name, str) and name in where:
                found.add(where[name])
        for key in ("services", "nodes", "containers"):
            visit([{"service": n} for n in target.get(key) or [] if isinstance(n, str)])

    visit(f.target)
    if f.data.get("zone") in letters:          # a zone fault records the zone it resolved (`{zone: leader}`)
        found.add(str(f.data["zone"]))
    links = f.link if isinstance(f.link, list) else [f.link]
    for link in links:
        if isinstance(link, str):
            found.update(where[part] for part in link.split("_") if part in where)
    return found


def _spans(probes: list[dict], key: str, window: RunWindow) -> list[dict[str, Any]]:
    """Each probe's `key` (text, else null) as merged spans of offsets, a probe trusted like the cluster's."""
    out: list[dict[str, Any]] = []
    for k, p in enumerate(probes):
        t = float(p["t"])
        nxt = float(probes[k + 1]["t"]) if k + 1 < len(probes) else t + LAST_PROBE_S
        value = p.get(key)
        row = {"start_s": round(t - window.t0, 3), "end_s": round(t - window.t0 + min(nxt - t, PROBE_GAP_S), 3),
               key: value if isinstance(value, str) else None}
        last = out[-1] if out else None
        if last is not None and last[key] == row[key] and abs(last["end_s"] - row["start_s"]) < 1e-6:
            last["end_s"] = row["end_s"]
        else:
            out.append(row)
    return out


def _vip_moves(holders: list[dict], served: list[tuple[float, str]], window: RunWindow) -> list[dict[str, Any]]:
    """Every change of the VIP's holder (a gap with no holder in between is part of the move); `served`: the
    (complete, lb) of every served operation that names its LB, sorted."""
    moves = []
    held = [h for h in holders if h["lb_active"]]
    times = [t for t, _ in served]
    for before, after in zip(held, held[1:], strict=False):
        if before["lb_active"] == after["lb_active"]:
            continue
        old, new = before["lb_active"], after["lb_active"]
        left = window.t0 + before["end_s"]
        first_new = next((t for t, lb in served[bisect_left(times, left):] if lb == new), None)
        last_old = None
        if first_new is not None:
            k = bisect_right(times, first_new)
            last_old = next((t for t, lb in reversed(served[:k]) if lb != new), None)
        moves.append({"from_lb": old, "to_lb": new, "left_s": before["end_s"], "t_s": after["start_s"],
                      "client_gap_s": None if first_new is None or last_old is None
                      else round(first_new - last_old, 3)})
    return moves


def _offsets(interval: Interval | None, window: RunWindow) -> dict[str, float] | None:
    if interval is None:
        return None
    return {"start": round(interval[0] - window.t0, 3), "end": round(interval[1] - window.t0, 3)}


def zones_section(events: list[dict], history_paths: Iterable[Path], window: RunWindow, probes: list[dict],
                  leader_spans: list[dict], slo: SLO, unsure: list[Interval] | None = None) -> dict[str, Any] | None:
    """result.json's `zones`, or None for a run without a placement over two zones or more. `unsure`: the load
    gaps availability leaves out (a missing worker), left out of the outages through each LB alike."""
    where = placement(events)
    letters = sorted(set(where.values()))
    if len(letters) < 2:
        return None
    routes = read_routes(history_paths, window, events)
    replicas = {r for r in map(itemgetter(3), routes) if r is not None}
    for p in probes:
        nodes = p.get("nodes")
        for name, info in (nodes.items() if isinstance(nodes, dict) else ()):
            if isinstance(info, dict) and info.get("role") == "api":
                replicas.add(str(name))
    targeted: dict[str, list[Interval]] = {z: [] for z in letters}
    for f in window.faults:
        if not f.took_effect or f.injected_t is None:
            continue
        end = f.healed_t if f.healed_t is not None else window.t_end
        for z in fault_zones(f, where, probes):
            targeted[z].append((f.injected_t, end))
    # one pass: who served what
    by_zone: dict[str, list[float]] = {z: [] for z in letters}
    by_lb: dict[str, list[tuple[float, float, str]]] = {}
    served_lb: list[tuple[float, str]] = []
    unrouted = unrouted_served = 0
    for c, i, outcome, replica, lb in routes:
        if outcome == "ok":
            home = where.get(replica) if replica is not None else None
            if home is not None:
                by_zone[home].append(c)
            if lb is not None:
                served_lb.append((c, lb))
        if lb is None:
            unrouted += 1
            unrouted_served += outcome == "ok"
        else:
            by_lb.setdefault(lb, []).append((c, i, outcome))
    attributed = sum(map(len, by_zone.values()))
    duration = window.duration_s
    zones = []
    for z in letters:
        mine = sorted(by_zone[z])
        cut = merge(targeted[z])
        zone_replicas = sorted(r for r in replicas if where.get(r) == z)
        gap = longest_gap(mine, window.t0, window.t_end, cut) if zone_replicas else None
        zones.append({
            "zone": z, "services": sorted(s for s, zz in where.items() if zz == z), "replicas": zone_replicas,
            "served": len(mine), "per_second": round(len(mine) / duration, 3) if duration > 0 else None,
            "share": round(len(mine) / attributed, 6) if attributed else None,
            "longest_gap_s": None if gap is None else round(gap[1] - gap[0], 3),
            "longest_gap": _offsets(gap, window),
            "targeted": [[round(a - window.t0, 3), round(b - window.t0, 3)] for a, b in cut],
        })
    lbs = []
    n = len(routes)
    for lb, ops in sorted(by_lb.items()):
        outage = _longest_through(Availability(_history_of(ops, window), window, slo, unsure=unsure),
                                  max(map(itemgetter(0), ops)))
        ok = sum(1 for op in ops if op[2] == "ok")
        lbs.append({"lb": lb, "zone": where.get(lb), "ops": len(ops), "served": ok, "not_served": len(ops) - ok,
                    "share": round(len(ops) / n, 6) if n else None,
                    "longest_outage_s": None if outage is None else round(outage[1] - outage[0], 3),
                    "longest_outage": None if outage is None else {
                        "start": window.offset(outage[0]), "end": window.offset(outage[1]), "open": outage[2]}})
    holders = _spans([p for p in probes if "lb_active" in p], "lb_active", window)   # not a probe that failed
    leader_zone: list[dict[str, Any]] = []
    for span in leader_spans:
        zone = where.get(span.get("leader") or "")
        last = leader_zone[-1] if leader_zone else None
        if last is not None and last["zone"] == zone and span["start_s"] <= last["end_s"] + 1e-6:
            last["end_s"] = max(last["end_s"], span["end_s"])
        else:
            leader_zone.append({"start_s": span["start_s"], "end_s": span["end_s"], "zone": zone})
    return {
        "placement": dict(sorted(where.items())),
        "zones": zones,
        "lbs": lbs,
        "unrouted": {"ops": unrouted, "served": unrouted_served},
        "vip": holders,
        "vip_moves": _vip_moves(holders, sorted(served_lb), window),
        "leader_zone": leader_zone,
    }
