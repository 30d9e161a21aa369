"""The nemesis's schedule: injects each fault at its time (through drills/faults/nemesis.py), heals it after
its duration, chains `after:` faults and repeats, and can heal everything at once (end of steady phase, abort,
error, signal).

Times are seconds from the start of load on the harness's monotonic clock. A clock thread of its own waits for
the next due action (woken early when one is added) and starts it on time: the runner's loop polls every 50 ms
and more under load, which made faults start up to a few hundred ms late. Inject and heal calls run on worker
threads so a slow `docker stop` never delays another fault's schedule.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from drills.faults import nemesis
from drills.faults.context import ActionFailed, FaultContext
from drills.faults.heal import heal_entry_with_data
from drills.rundir.writers import EventLog
from drills.scenario.fault_types import family_of
from drills.scenario.model import Fault

CLOCK_IDLE_S = 1.0   # the clock thread looks at least this often even when nothing wakes it
#: heal_all waits at most this long for every heal (its own and those already running, a restore among them):
#: the drill's recovery phase starts only when they are done, and the load is planned to outlast the wait.
HEAL_WAIT_S = 180.0


@dataclass(order=True)
class _Due:
    at_s: float
    seq: int
    kind: str = field(compare=False)        # inject | heal
    fault: Fault = field(compare=False)
    iteration: int = field(compare=False, default=0)


@dataclass
class Active:
    fault: Fault
    iteration: int
    key: str
    scheduled_s: float
    injected: Future
    targets: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    cuts_off: bool = False       # its family makes its targets unreachable while it is active


@dataclass
class PlanLine:
    fault_id: str
    type: str
    where: str
    at: str
    until: str


def plan_lines(faults: list[Fault], steady_end_s: float) -> list[PlanLine]:
    """The schedule as a reader sees it, for `drill run --dry-run` (targets are resolved at injection)."""
    out = []
    for f in faults:
        if f.target:
            t = f.target
            sel = f"{t.count}" if t.count else t.select
            where = f"{sel} of " + (f"service {t.service}" if t.service else f"label {t.label}" if t.label
                                    else f"role {t.role} (resolved at injection)")
            if t.zone:   # a zone fault acts on the whole zone; `leader` / `replica` name one at injection
                fam = family_of(f.type)
                where = ("every container" if fam is not None and fam.name == "zone" else f"{sel}") + \
                    f" of zone {t.zone}" + (" (resolved at injection)" if t.zone in ("leader", "replica") else "")
        elif f.link is not None:
            where = f"link {f.link}"
        elif f.params.get("groups"):   # a partition into groups names no target
            where = "groups " + " | ".join(", ".join(map(str, g)) for g in f.params["groups"])
        else:                          # disasters and actions act on the whole database cluster
            where = "the database cluster"
        if f.at is not None:
            at = f"t={f.at:g}s"
        else:
            at = f"{f.after.delay:g}s after {f.after.fault} {f.after.event}" if f.after else "?"
        if f.repeat_every:
            at += f", again every {f.repeat_every:g}s" + (f" ({f.repeat_count}x)" if f.repeat_count else "")
        until = f"+{f.duration:g}s" if f.duration is not None else f"end of steady (t={steady_end_s:g}s)"
        out.append(PlanLine(f.id, f.type, where, at, until))
    return out


class FaultScheduler:
    def __init__(self, ctx: FaultContext, faults: list[Fault], events: EventLog, steady_end_s: float,
                 log=print) -> None:
        self.ctx = ctx
        self.faults = faults
        self.events = events
        self.steady_end_s = steady_end_s
        self.log = log
        self.t0: float | None = None
        self._queue: list[_Due] = []
        self._seq = itertools.count()
        self._active: dict[str, Active] = {}
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)   # notified when the queue's head may have changed, or stop
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="nemesis")
        self._clock: threading.Thread | None = None
        self._healing: set[Future] = set()              # heals submitted and not finished
        self._stopped = False
        self.records: list[dict] = []

    # ---- schedule ---------------------------------------------------------------------------------
    def start(self, t0_mono: float) -> None:
        self.t0 = t0_mono
        for f in self.faults:
            if f.at is not None:
                self._push(f.at, "inject", f, 0)
        self._clock = threading.Thread(target=self._run_clock, name="nemesis-clock", daemon=True)
        self._clock.start()

    def now_s(self) -> float:
        return time.monotonic() - (self.t0 or time.monotonic())

    def _push(self, at_s: float, kind: str, fault: Fault, iteration: int) -> None:
        with self._lock:
            heapq.heappush(self._queue, _Due(at_s, next(self._seq), kind, fault, iteration))
            self._wake.notify()

    def _run_clock(self) -> None:
        """Sleep until the queue's head is due (or a push or a stop wakes it), then start what is due."""
        while True:
            with self._lock:
                if self._stopped:
                    return
                wait = CLOCK_IDLE_S if not self._queue else self._queue[0].at_s - self.now_s()
                if wait > 0:
                    self._wake.wait(min(wait, CLOCK_IDLE_S))
                    continue
            self.tick()

    def next_due_s(self) -> float | None:
        with self._lock:
            return self._queue[0].at_s if self._queue else None

    def tick(self) -> None:
        """Start every action that is due; called often by the runner's loop."""
        while True:
            with self._lock:
                if self._stopped or not self._queue or self._queue[0].at_s > self.now_s():
                    return
                due = heapq.heappop(self._queue)
            if due.kind == "inject":
                if due.at_s >= self.steady_end_s:
                    continue  # faults happen only while the steady phase runs
                self._start_inject(due)
            else:
                self._start_heal(f"{due.fault.id}-{due.iteration}", due.at_s)

    def active(self) -> tuple[list[str], list[str]]:
        """(ids of active faults, services cut off by network faults) for probes and the console."""
        with self._lock:
            ids = sorted({a.fault.id for a in self._active.values()})
            cut = sorted({t for a in self._active.values() if a.cuts_off for t in a.targets})
        return ids, cut

    # ---- inject / heal ------------------------------------------------------------------------------
    def _start_inject(self, due: _Due) -> None:
        fault, it = due.fault, due.iteration
        key = f"{fault.id}-{it}"
        fam = family_of(fault.type)
        active = Active(fault, it, key, due.at_s, Future(), cuts_off=fam is not None and fam.cuts_off)
        with self._lock:
            self._active[key] = active
        active.injected = self._pool.submit(self._inject, active)

    def _inject(self, active: Active) -> bool:
        fault = active.fault
        started = self.now_s()
        roles: dict[str, str] = {}
        data = None
        self.ctx.marks[fault.id] = time.time()
        try:
            roles = self.ctx.view.current_roles() if fault.target and fault.target.role else {}
            inj = nemesis.inject(self.ctx, fault, active.key)
            ok, error = True, None
            active.targets = [n.service for n in inj.targets]
            active.links = inj.links
            detail, targets, data = inj.detail, inj.target_dicts(roles), inj.data or None
        except ActionFailed as exc:
            ok, error, detail, targets, data = False, str(exc), "", [], exc.data or None
            self.ctx.marks.pop(fault.id, None)
        except Exception as exc:
            ok, error, detail, targets = False, f"{exc.__class__.__name__}: {exc}", "", []
            self.ctx.marks.pop(fault.id, None)
        record = self.events.emit(
            "fault", phase="inject", fault_id=fault.id, type=fault.type, iteration=active.iteration,
            target=targets[0] if len(targets) == 1 else (targets or None), targets=targets,
            link=(active.links[0] if len(active.links) == 1 else active.links) or fault.link,
            params=fault.params, scheduled_s=round(active.scheduled_s, 3), started_s=round(started, 3),
            offset_s=round(self.now_s(), 3), ok=ok, error=error, detail=detail,
            **({"data": data} if data else {}))
        self.records.append(record)
        self.log(f"t={record['offset_s']:.1f}s inject {fault.id} ({fault.type}) "
                 + (detail if ok else f"FAILED: {error}"))
        if not ok:
            self._start_heal(active.key, active.scheduled_s, failed_inject=True)
            return False
        heal_at = active.scheduled_s + fault.duration if fault.duration is not None else self.steady_end_s
        self._push(max(heal_at, active.scheduled_s), "heal", fault, active.iteration)
        self._trigger(fault.id, "injected")
        if fault.repeat_every and (fault.repeat_count is None or active.iteration + 1 < fault.repeat_count):
            self._push(active.scheduled_s + fault.repeat_every, "inject", fault, active.iteration + 1)
        return True

    def _start_heal(self, key: str, scheduled_s: float, failed_inject: bool = False) -> Future | None:
        with self._lock:
            active = self._active.get(key)
        if active is None:
            return None
        return self._track(self._pool.submit(self._heal, active, scheduled_s, failed_inject))

    def _track(self, heal: Future) -> Future:
        with self._lock:
            self._healing.add(heal)
        heal.add_done_callback(self._untrack)
        return heal

    def _untrack(self, heal: Future) -> None:
        with self._lock:
            self._healing.discard(heal)

    def _heal(self, active: Active, scheduled_s: float, failed_inject: bool = False) -> bool:
        if not failed_inject:
            try:
                active.injected.result(timeout=120)  # never heal half-way through an inject
            except Exception:
                pass
        with self._lock:
            if self._active.get(active.key) is not active:
                return True  # healed already (heal_all raced a scheduled heal)
            self._active.pop(active.key, None)
        entry = self.ctx.ledger.pending().get(active.key)
        started = self.now_s()
        done, errors, data = heal_entry_with_data(entry, self.ctx) if entry else ([], [], {})
        if not errors:
            self.ctx.ledger.resolve(active.key)
        if failed_inject and not entry:
            return True
        record = self.events.emit(
            "fault", phase="heal", fault_id=active.fault.id, type=active.fault.type, iteration=active.iteration,
            scheduled_s=round(scheduled_s, 3), started_s=round(started, 3), offset_s=round(self.now_s(), 3),
            ok=not errors, error="; ".join(errors) or None, detail="; ".join(done),
            after_failed_inject=failed_inject or None, **({"data": data} if data else {}))
        self.records.append(record)
        self.log(f"t={record['offset_s']:.1f}s heal {active.fault.id}: " + ("; ".join(errors) or "ok"))
        if not failed_inject:
            self._trigger(active.fault.id, "healed")
        return not errors

    def _trigger(self, fault_id: str, event: str) -> None:
        for f in self.faults:
            if f.after and f.after.fault == fault_id and f.after.event == event:
                self._push(self.now_s() + f.after.delay, "inject", f, 0)

    def heal_all(self, reason: str) -> list[str]:
        """Heal every active fault now, in parallel, and wait for the heals already running (a restore that
        started before the end of steady); no new inject starts afterwards. Returns errors."""
        with self._lock:
            self._stopped = True
            self._queue.clear()
            self._wake.notify()
            actives = list(self._active.values())
            running = list(self._healing)
        if actives:
            self.log(f"healing {len(actives)} active fault(s): {reason}")
        if running:
            self.log(f"waiting for {len(running)} heal(s) in progress: {reason}")
        futures = [self._track(self._pool.submit(self._heal, a, self.now_s())) for a in actives] + running
        deadline = time.monotonic() + HEAL_WAIT_S
        errors = []
        for fut in futures:
            try:
                if not fut.result(timeout=max(0.0, deadline - time.monotonic())):
                    errors.append("a heal reported errors (see events.jsonl)")
            except Exception as exc:
                errors.append(str(exc) or f"a heal did not finish within {HEAL_WAIT_S:g} s")
        return errors

    def shutdown(self) -> None:
        with self._lock:
            self._stopped = True
            self._wake.notify()
        if self._clock is not None:
            self._clock.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=False)
