"""When each fault is injected and healed, in seconds from the start of load, and whether that fits the run.

Faults happen while load runs and must be healed before the recovery phase, which exists to show that the
system came back: every injection lies in [0, warmup + steady) and every heal at or before warmup + steady.
A fault without a duration is healed at the end of steady.
"""

from __future__ import annotations

from drills.scenario.fault_types import FAULTS
from drills.scenario.model import Fault, Phases
from drills.scenario.validate_faults import ReadFault


class _Cycle(Exception):
    def __init__(self, chain: list[str]) -> None:
        self.chain = chain


class Timeline:
    """Offsets of a list of faults; `after` references are resolved recursively."""

    def __init__(self, faults: list[Fault], phases: Phases) -> None:
        self.by_id = {f.id: f for f in faults}
        self.end = phases.warmup + phases.steady
        self._inject: dict[str, float | None] = {}
        self._stack: list[str] = []

    def inject(self, fault: Fault) -> float | None:
        """First injection offset; None when it depends on an unknown fault."""
        if fault.id in self._inject:
            return self._inject[fault.id]
        if fault.id in self._stack:
            raise _Cycle([*self._stack[self._stack.index(fault.id):], fault.id])
        self._stack.append(fault.id)
        try:
            if fault.at is not None:
                offset: float | None = fault.at
            elif fault.after is not None and fault.after.fault in self.by_id:
                ref = self.by_id[fault.after.fault]
                base = self.inject(ref) if fault.after.event == "injected" else self.heal(ref)
                offset = None if base is None else base + fault.after.delay
            else:
                offset = None
        finally:
            self._stack.pop()
        self._inject[fault.id] = offset
        return offset

    def heal(self, fault: Fault) -> float | None:
        """First heal offset: injection + duration, at once for self-healing types, else the end of steady."""
        start = self.inject(fault)
        if start is None:
            return None
        if FAULTS.get(fault.type) is not None and FAULTS[fault.type].instantaneous:
            return start
        return start + fault.duration if fault.duration is not None else max(start, self.end)


def check_schedule(read: list[ReadFault], phases: Phases) -> None:
    """Report (on each fault's own view) injections or heals that fall outside warmup + steady."""
    timeline = Timeline([r.fault for r in read], phases)
    end = timeline.end
    window = f"the end of steady at {end:g} s (warmup {phases.warmup:g} s + steady {phases.steady:g} s)"
    reported_cycle: set[str] = set()
    for r in read:
        fault, view = r.fault, r.view
        try:
            start = timeline.inject(fault)
        except _Cycle as cycle:
            if fault.id in cycle.chain and not reported_cycle & set(cycle.chain):
                reported_cycle.update(cycle.chain)
                view.error("after", f"expected `after` references without a cycle, found {' -> '.join(cycle.chain)}")
            continue
        if start is None:
            continue
        key = "at" if fault.at is not None else "after"
        if start >= end:
            how = ("" if fault.at is not None or fault.after is None else
                   f" ({fault.after.delay:g} s after '{fault.after.fault}' is {fault.after.event})")
            view.error(key, f"expected an injection before {window}; offsets count from the start of load; "
                            f"found {start:g} s{how}")
            continue
        last = start
        if fault.repeat_every is not None and fault.repeat_count is not None:
            last = start + (fault.repeat_count - 1) * fault.repeat_every
            if last >= end:
                view.error("repeat_count", f"expected every repetition to start before {window}, found the "
                                           f"last one at {last:g} s")
                continue
        if fault.duration is not None and last + fault.duration > end:
            which = "duration" if view.given("duration") else "params"
            view.error(which, f"expected the fault to heal by {window}, found it injected at {last:g} s for "
                              f"{fault.duration:g} s (until {last + fault.duration:g} s)")
