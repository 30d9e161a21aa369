"""Availability budgets around the load gaps of remote workers (drills/checks/worker_health.py).

While a worker's load was missing, nobody can say what buyers saw: the budgets whose scope reaches into such a
window are judged again on what lies outside it, and

* fail when that part alone already fails them (the system did it, with the load there to see it);
* are otherwise unknown (`passed` null, so the run is inconclusive), the detail naming the windows.

Scope per metric: a phase metric (success ratio, outage, latency, burn) is affected when its phase overlaps a
gap and is judged again over the phase minus the gaps; a span metric (recovery_s, failover_s,
zone_served_gap_s) when one of its measured spans (injection to recovery, leader gone to the first purchase,
a zone's longest gap in serving) overlaps a gap, and is judged again without those spans. Missing load can only
make a failover or a zone's serving gap look longer, never shorter: a pass of those stands. Data-safety,
alerting and harness metrics are not about the load's coverage: untouched.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from drills.checks.availability import Availability
from drills.checks.budgets import observe, passed
from drills.checks.measurements import Measurements
from drills.checks.observation import Observation
from drills.checks.window import INF, Interval, RunWindow, subtract
from drills.scenario.model import Budget

PHASE_METRICS = ("success_ratio", "longest_outage_s", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                 "error_budget_burn")
SPAN_METRICS = ("recovery_s", "failover_s", "zone_served_gap_s")
ONLY_LONGER = ("failover_s", "zone_served_gap_s")   # missing load can only lengthen them: a pass stands


def overlaps(a: float, b: float, gaps: list[Interval]) -> bool:
    return any(min(b, g1) > max(a, g0) for g0, g1 in gaps)


@dataclass
class ConclusiveWindow(RunWindow):
    """The run's window with the load gaps taken out of every phase ("all" included)."""

    gaps: list[Interval] = field(default_factory=list)

    def intervals(self, phase: str) -> list[Interval]:
        return subtract(RunWindow.intervals(self, phase), self.gaps)


def _recovery_span(row: dict, w: RunWindow) -> Interval:
    start = w.t0 + (row.get("injected_s") or 0.0)
    return start, start + (row.get("recovery_s") or INF)


def _failover_span(row: dict, w: RunWindow) -> Interval:
    start = w.t0 + (row.get("gone_s") or 0.0)
    return start, start + (row.get("failover_s") or INF)


def _zone_gap_span(row: dict, w: RunWindow) -> Interval:
    gap = row.get("longest_gap")
    start, end = (gap.get("start"), gap.get("end")) if isinstance(gap, dict) else (None, None)
    if not isinstance(start, (int, float)) or not isinstance(end, (int, float)):
        return (0.0, 0.0)
    return w.t0 + start, w.t0 + end


def _zones_without(zones: dict | None, w: RunWindow, gaps: list[Interval]) -> dict | None:
    """result.json's `zones` less the zones whose longest serving gap runs into a load gap."""
    if not zones or not isinstance(zones.get("zones"), list):
        return zones
    return {**zones, "zones": [r for r in zones["zones"] if not overlaps(*_zone_gap_span(r, w), gaps)]}


class _Conclusive:
    """The measurements again, without the gaps: phases minus the gaps, spans through a gap left out."""

    def __init__(self, m: Measurements, gaps: list[Interval]) -> None:
        av = m.availability
        w = av.window
        self.gaps = gaps
        self.window = w
        window = ConclusiveWindow(t0=w.t0, t_end=w.t_end, phases=w.phases, faults=w.faults, gaps=gaps)
        self.measurements = dataclasses.replace(
            m, availability=Availability(av.history, window, av.slo, unsure=gaps),
            failovers=[f for f in m.failovers if not overlaps(*_failover_span(f, w), gaps)], _recovery={},
            zones=_zones_without(m.zones, w, gaps))
        self.original = m

    def affected(self, budget: Budget) -> bool:
        w, gaps = self.window, self.gaps
        if budget.metric in PHASE_METRICS:
            return any(overlaps(max(a, w.t0), min(b, w.t_end), gaps) for a, b in w.intervals(budget.phase))
        if budget.metric == "recovery_s":
            return any(overlaps(*_recovery_span(r, w), gaps) for r in self.original.recovery(budget.op))
        if budget.metric == "failover_s":
            return len(self.measurements.failovers) < len(self.original.failovers)
        if budget.metric == "zone_served_gap_s":
            zones, fewer = self.original.zones, self.measurements.zones
            return bool(zones and fewer) and len(fewer["zones"]) < len(zones["zones"])  # type: ignore[index]
        return False

    def observe(self, budget: Budget) -> Observation:
        m = self.measurements
        if budget.metric == "recovery_s" and budget.op not in m._recovery:
            m._recovery[budget.op] = [r for r in self.original.recovery(budget.op)
                                      if not overlaps(*_recovery_span(r, self.window), self.gaps)]
        return observe(budget.metric, budget.op, budget.phase, m)


def gap_words(gaps: list[Interval], w: RunWindow) -> str:
    return ", ".join(f"{w.offset(a)}-{w.offset(b)} s" for a, b in gaps)


def qualify(rows: list[dict], budgets: list[Budget], m: Measurements, gaps: list[Interval]) -> list[dict]:
    """The budget rows (budgets.evaluate(), in the order of `budgets`) with those the load gaps reach judged
    again (see the module docstring)."""
    if not gaps:
        return rows
    conclusive = _Conclusive(m, gaps)
    where = gap_words(gaps, m.availability.window)
    out = []
    for row, budget in zip(rows, budgets, strict=True):
        if not conclusive.affected(budget) or (budget.metric in ONLY_LONGER and row["passed"] is True):
            out.append(row)
            continue
        obs = conclusive.observe(budget)
        verdict = passed(budget, obs)
        row = {**row, "observed": obs.value, "censored": obs.censored}
        row.pop("never", None)
        if verdict is False:
            row.update(passed=False, detail=f"judged outside the load workers' gaps ({where}): {obs.detail}",
                       **({"never": True} if obs.never else {}))
        else:
            row.update(passed=None, detail=f"inconclusive: a load worker's load was missing at {where} (not an "
                                           f"outage); outside that: {obs.detail}")
        out.append(row)
    return out
