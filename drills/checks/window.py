"""When things happened: the load window, the phases and the fault intervals, from events.jsonl.

Everything downstream judges operations against these intervals. Intervals are half-open `(start, end)`
epoch pairs; `-inf`/`+inf` stand for "from the beginning"/"to the end", so an operation that completes a
few milliseconds after `load_stopped` still lands in the last phase instead of nowhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from drills.checks.damage import epoch
from drills.rundir.tolerant import Problems
from drills.scenario.fault_types import FAULTS
from drills.scenario.model import Phases

INF = math.inf
Interval = tuple[float, float]

SCENARIO_PHASES = ("warmup", "steady", "recovery")
FAULT_PHASES = ("before_fault", "during_fault", "after_heal")


@dataclass
class FaultRecord:
    """One injection (one iteration of a fault) and its heal, paired by fault_id and iteration."""

    id: str
    iteration: int
    type: str | None
    target: dict | None
    link: str | None
    scheduled_s: float | None
    injected_t: float | None
    ok: bool | None
    error: str | None
    healed_t: float | None = None
    heal_ok: bool | None = None
    heal_error: str | None = None
    data: dict = field(default_factory=dict)          # the inject line's type-specific facts (`data`)
    heal_data: dict = field(default_factory=dict)     # the heal line's `data`, if any
    heal_detail: str | None = None

    @property
    def restore(self) -> dict:
        """restore_cluster's `data.restore` (empty for every other type)."""
        r = self.data.get("restore")
        return r if isinstance(r, dict) else {}

    @property
    def took_effect(self) -> bool:
        """Injected without error (a failed injection changes nothing to judge) -- or a failed restore that
        had already removed the old cluster (that changed everything)."""
        return self.injected_t is not None and (self.ok is not False
                                                or self.restore.get("cluster_removed_at") is not None)

    @property
    def inject_failed(self) -> bool:
        """The fault did not happen: its inject line says it failed and nothing took effect, so the drill did
        not test what it says. A failed action (restore_cluster) is not one: the restore is what the drill
        tests, and its failure is judged (rto_s never recovers)."""
        spec = FAULTS.get(self.type or "")
        return (self.injected_t is not None and self.ok is False and not self.took_effect
                and (spec is None or spec.family != "action"))


@dataclass
class RunWindow:
    """The load window and the named phases of one run."""

    t0: float                      # load_started (epoch)
    t_end: float                   # load_stopped (epoch)
    phases: dict[str, list[Interval]] = field(default_factory=dict)
    faults: list[FaultRecord] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.t_end - self.t0)

    def intervals(self, phase: str) -> list[Interval]:
        """The intervals of a phase name; "all" is everything."""
        if phase == "all":
            return [(-INF, INF)]
        return self.phases.get(phase, [])

    def offset(self, t: float | None) -> float | None:
        """Seconds from load start, rounded to the millisecond (None passes through)."""
        return None if t is None or not math.isfinite(t) else round(t - self.t0, 3)


def run_events(events: list[dict], name: str) -> list[float]:
    """Epoch times of the `run` events called `name` (a line whose `t` is no moment, damage.epoch(), is none)."""
    return [t for e in events if e.get("kind") == "run" and e.get("name") == name
            and (t := epoch(e.get("t"))) is not None]


def recovery_delay_notes(events: list[dict]) -> list[str]:
    """The drill's `recovery_delayed` line as a note: a reviewer should know the recovery phase began late, and
    why (a heal, typically a restore, outlasted the steady phase), before reading the phase's numbers."""
    out = []
    for e in events:
        by = e.get("by_s")
        if e.get("kind") == "run" and e.get("name") == "recovery_delayed" and type(by) in (int, float):
            out.append(f"the recovery phase started {by:.1f} s after the end of steady: heals were still running "
                       "(those seconds belong to no phase)")
    return out


def _epoch(value: object) -> float | None:
    return epoch(value)


def _object(value: object) -> dict:
    """A JSON object as it is, anything else (missing, null, damaged) as an empty one."""
    return value if isinstance(value, dict) else {}


def fault_key(e: dict) -> tuple[str, int]:
    """(fault_id, iteration) of a fault line, which pairs its inject and heal lines; an iteration that is no
    whole number (damaged) counts as the first."""
    iteration = e.get("iteration")
    return str(e.get("fault_id")), iteration if type(iteration) is int else 0


def pair_faults(events: list[dict]) -> list[FaultRecord]:
    """Inject and heal lines paired by (fault_id, iteration), in injection order.

    An action that takes a while (restore_cluster) writes its inject line when it has finished; its interval
    is the action itself, from `data.restore.started` to `data.restore.finished` (its heal line, which has
    nothing to heal, does not move the end), so phases and charts cover the whole restore and no longer."""
    records: dict[tuple[str, int], FaultRecord] = {}
    for e in events:
        if e.get("kind") != "fault":
            continue
        key = fault_key(e)
        t = epoch(e.get("t"))
        kind = e.get("type") if isinstance(e.get("type"), str) else None
        data = _object(e.get("data"))
        if e.get("phase") == "inject":
            restore = _object(data.get("restore"))
            started, finished = _epoch(restore.get("started")), _epoch(restore.get("finished"))
            if started is not None and t is not None and started <= t:
                t = started
            records[key] = FaultRecord(
                id=key[0], iteration=key[1], type=kind, target=e.get("target"), link=e.get("link"),
                scheduled_s=e.get("scheduled_s"), injected_t=t, ok=e.get("ok"), error=e.get("error"), data=data)
            if finished is not None and t is not None and finished >= t:
                records[key].healed_t, records[key].heal_ok = finished, True
        elif e.get("phase") == "heal":
            rec = records.get(key)
            if rec is None:  # heal without inject: keep it visible
                rec = records[key] = FaultRecord(key[0], key[1], kind, e.get("target"), e.get("link"),
                                                 e.get("scheduled_s"), None, None, None)
            rec.heal_data, rec.heal_detail = data, e.get("detail")
            if "finished" in rec.restore and rec.healed_t is not None:
                continue  # an action's interval ends when it finished
            rec.healed_t, rec.heal_ok, rec.heal_error = t, e.get("ok"), e.get("error")
    return sorted(records.values(), key=lambda r: (r.injected_t is None, r.injected_t or 0.0, r.id))


def merge(intervals: list[Interval]) -> list[Interval]:
    """Union of intervals as sorted, disjoint intervals."""
    out: list[list[float]] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def subtract(intervals: list[Interval], gaps: list[Interval]) -> list[Interval]:
    """`intervals` less the sorted, disjoint `gaps` (e.g. merge()'s result)."""
    out: list[Interval] = []
    for a, b in intervals:
        start = a
        for g0, g1 in gaps:
            if g1 <= start or g0 >= b:
                continue
            if g0 > start:
                out.append((start, g0))
            start = max(start, g1)
        if b > start:
            out.append((start, b))
    return out


def fault_phases(faults: list[FaultRecord]) -> dict[str, list[Interval]]:
    """before_fault = up to the first injection; during_fault = union of inject..heal; after_heal = from the
    last heal (empty while a fault is never healed). Without faults everything is before_fault."""
    active = [f for f in faults if f.took_effect]
    if not active:
        return {"before_fault": [(-INF, INF)], "during_fault": [], "after_heal": []}
    spans: list[Interval] = [(f.injected_t or 0.0, f.healed_t if f.healed_t is not None else INF) for f in active]
    first = min(a for a, _ in spans)
    during = merge(spans)
    unhealed = any(f.healed_t is None for f in active)
    last_heal = max((f.healed_t for f in active if f.healed_t is not None), default=None)
    after = [] if unhealed or last_heal is None else [(last_heal, INF)]
    return {"before_fault": [(-INF, first)], "during_fault": during, "after_heal": after}


def scenario_phases(events: list[dict], t0: float, declared: Phases | None,
                    problems: Problems) -> dict[str, list[Interval]]:
    """warmup/steady/recovery from `phase` events (offsets from load start); else from the scenario's
    declared durations. The first phase is open to the left and the last to the right."""
    spans: dict[str, Interval] = {}
    for e in events:
        if e.get("kind") == "phase" and e.get("name") in SCENARIO_PHASES:
            start, end = e.get("start_s"), e.get("end_s")
            if isinstance(start, (int, float)) and isinstance(end, (int, float)):
                spans[e["name"]] = (t0 + start, t0 + end)
    if not spans and declared is not None:
        problems.note("no phase events: phases taken from the scenario's declared durations")
        w, s = t0 + declared.warmup, t0 + declared.warmup + declared.steady
        spans = {"warmup": (t0, w), "steady": (w, s), "recovery": (s, s + declared.recovery)}
    ordered = sorted(spans.items(), key=lambda kv: kv[1][0])
    out: dict[str, list[Interval]] = {name: [] for name in SCENARIO_PHASES}
    for i, (name, (a, b)) in enumerate(ordered):
        out[name] = [(-INF if i == 0 else a, INF if i == len(ordered) - 1 else b)]
    return out


def build_window(events: list[dict], declared: Phases | None, problems: Problems,
                 first_invoke: float | None = None, last_complete: float | None = None) -> RunWindow:
    """The run's window from its events; missing load_started/load_stopped fall back to the history's
    own first invocation / last completion (noted)."""
    starts, stops = run_events(events, "load_started"), run_events(events, "load_stopped")
    if starts:
        t0 = starts[0]
    else:
        t0 = first_invoke if first_invoke is not None else 0.0
        problems.note("no load_started event: the load window starts at the first operation")
    if stops:
        t_end = stops[-1]
    else:
        t_end = last_complete if last_complete is not None else t0
        problems.note("no load_stopped event: the load window ends at the last completed operation")
    faults = pair_faults(events)
    phases = scenario_phases(events, t0, declared, problems)
    phases.update(fault_phases(faults))
    return RunWindow(t0=t0, t_end=max(t0, t_end), phases=phases, faults=faults)
