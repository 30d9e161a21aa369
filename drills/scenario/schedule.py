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
    """Offsets of a list of faults. `after` references are resolved by walking each chain iteratively, so a
    chain of any length (written in any order) costs no recursion."""

    def __init__(self, faults: list[Fault], phases: Phases) -> None:
        self.by_id = {f.id: f for f in faults}
        self.end = phases.warmup + phases.steady
        self._inject: dict[str, float | None] = {}

    def inject(self, fault: Fault) -> float | None:
        """First injection offset; None when it depends on an unknown fault."""
        chain: list[Fault] = []   # this fault, the one it follows, the one that follows, ... until a known one
        cur = fault
        while cur.id not in self._inject:
            if any(f.id == cur.id for f in chain):
                ids = [f.id for f in chain]
                raise _Cycle([*ids[ids.index(cur.id):], cur.id])
            chain.append(cur)
            if cur.at is not None or cur.after is None or cur.after.fault not in self.by_id:
                break
            cur = self.by_id[cur.after.fault]
        for f in reversed(chain):  # from the start of the chain: each one's reference is resolved by now
            offset: float | None = None
            if f.at is not None:
                offset = f.at
            elif f.after is not None and f.after.fault in self.by_id:
                ref = self.by_id[f.after.fault]
                start = self._inject[ref.id]
                base = start if f.after.event == "injected" else self._heal_at(ref, start)
                offset = None if base is None else base + f.after.delay
            self._inject[f.id] = offset
        return self._inject[fault.id]

    def heal(self, fault: Fault) -> float | None:
        """First heal offset: injection + duration, at once for self-healing types, else the end of steady."""
        return self._heal_at(fault, self.inject(fault))

    def _heal_at(self, fault: Fault, start: float | None) -> float | None:
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
