"""Remote load workers' health, from the master's `worker` lines in events.jsonl: when each worker joined, its
clock offset, and the windows in which its share of the load was missing.

A missing load worker is not an outage of the system. While a worker is gone its users offer nothing and its
operations in flight are never reported, so over that window the history cannot say what buyers would have
seen: availability there is inconclusive (drills/checks/worker_budgets.py), never an outage. Per worker, a
*load gap* runs

* from `missing` (heartbeat lost) to the worker's next `joined`, else to load stop (`lost` at the end says it
  never came back; a `lost` with no `missing` before it counts from the worker's last join). The master can
  only tell a worker is missing once its heartbeats have stopped for a while (Locust: 3 missed beats 1 s apart,
  so about 4 s): the gap starts MISSING_AFTER_S before the `missing` line, when its load was already gone;
* from a `quit` before the load was due to end (QUIT_GRACE_S before the end of its last phase, or an abort:
  workers quit when Locust's run time is over, which can be well before the harness writes `load_stopped`)
  to its next join or load stop: its load left early;
* and on after a rejoin while the load stays below what it was before the gap "because of it": until the
  users summed over stats.jsonl are back at their level of the seconds before the gap (at most RAMP_MAX_S).

Gaps are clipped to the load window. A run without `worker` lines has no gaps: everything is as before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from drills.checks.damage import epoch
from drills.checks.generator import per_second
from drills.checks.window import Interval, RunWindow, merge
from drills.checks.worker_clock import WORKER_EVENT
from drills.rundir import files

NAMES = ("joined", "missing", "quit", "lost")
MISSING_AFTER_S = 4.0    # Locust marks a worker missing ~4 s after its last heartbeat (HEARTBEAT_LIVENESS 3 x 1 s)
QUIT_GRACE_S = 2.0       # a quit this close to the load's due end (or after it) is the ordinary end of the run
RAMP_MAX_S = 30.0        # after a rejoin, the load is given this long at most to climb back to its level
RAMP_BEFORE_S = 3        # whole seconds before a gap that set the level the load climbs back to

WHY = {"missing": "heartbeat lost", "quit": "quit before the load stopped", "lost": "lost, never came back",
       "ramp": "load below its level before the gap, after the worker rejoined"}


@dataclass
class WorkerGap:
    """A window (epoch seconds) in which one worker's share of the load was missing, and why."""

    worker: str
    start: float
    end: float
    why: str            # a key of WHY

    @property
    def interval(self) -> Interval:
        return (self.start, self.end)


@dataclass
class WorkerRecord:
    """One remote worker as the master's lines tell it."""

    name: str
    joined: list[float] = field(default_factory=list)
    offset_s: float | None = None       # latest measured clock offset (worker minus master)
    rtt_s: float | None = None
    gaps: list[WorkerGap] = field(default_factory=list)
    end: str | None = None              # "quit" / "lost" when the master said so


def worker_lines(events: list[dict]) -> list[dict]:
    """The usable `worker` lines (a moment, a known name, a worker's name), in time order."""
    out = [e for e in events if e.get("kind") == WORKER_EVENT and e.get("name") in NAMES
           and type(e.get("worker")) is str and epoch(e.get("t")) is not None]
    return sorted(out, key=lambda e: float(e["t"]))


def _number(v: object) -> float | None:
    return float(v) if type(v) in (int, float) and math.isfinite(v) else None  # type: ignore[arg-type]


def _users(stats: list[dict]) -> dict[int, float]:
    return {sec: r["users"] for sec, r in per_second(stats).items()}


def _ramp_end(users: dict[int, float], gap_start: float, rejoined: float, limit: float) -> float | None:
    """When the summed users got back to their level of the RAMP_BEFORE_S seconds before the gap (the end of
    the first such second at or after the rejoin), at most RAMP_MAX_S after it; None: no stats to tell."""
    first = math.floor(gap_start)
    level = [users[s] for s in range(first - RAMP_BEFORE_S, first) if s in users]
    if not level or max(level) <= 0:
        return None
    before = max(level)
    cap = min(limit, rejoined + RAMP_MAX_S)
    sec = math.floor(rejoined)
    while sec < cap:
        if users.get(sec, -1.0) >= before:
            return min(cap, max(rejoined, sec + 1.0))
        sec += 1
    return cap


def due_end(events: list[dict], window: RunWindow) -> float:
    """When the load was due to end: the end of its last phase (`phase` events), an abort, or load stop, whichever
    came first."""
    ends = [window.t_end]
    phase_ends = [e["end_s"] for e in events if e.get("kind") == "phase" and type(e.get("end_s")) in (int, float)]
    if phase_ends:
        ends.append(window.t0 + max(phase_ends))
    ends += [t for e in events if e.get("kind") == "abort" and (t := epoch(e.get("t"))) is not None]
    return min(ends)


def worker_records(events: list[dict], window: RunWindow, stats: list[dict] | None = None) -> list[WorkerRecord]:
    """Every worker the master wrote about, with its joins, offset and load gaps (see the module docstring)."""
    lines = worker_lines(events)
    if not lines:
        return []
    records: dict[str, WorkerRecord] = {}
    opened: dict[str, tuple[float, str]] = {}
    users = _users(stats or [])
    t0, t_end = window.t0, window.t_end
    ordinary_quit = due_end(events, window) - QUIT_GRACE_S

    def close(rec: WorkerRecord, end: float) -> None:
        start, why = opened.pop(rec.name)
        a, b = max(start, t0), min(end, t_end)
        if b > a:
            rec.gaps.append(WorkerGap(rec.name, a, b, why))
        if end < t_end:   # it came back: the load may still be climbing
            ramp = _ramp_end(users, start, end, t_end)
            a = max(end, t0)
            if ramp is not None and ramp > a:
                rec.gaps.append(WorkerGap(rec.name, a, ramp, "ramp"))

    for e in lines:
        t, name = float(e["t"]), e["name"]
        rec = records.setdefault(e["worker"], WorkerRecord(e["worker"]))
        if name == "joined":
            if rec.name in opened:
                close(rec, t)
            rec.joined.append(t)
            rec.end = None
            offset, rtt = _number(e.get("offset_s")), _number(e.get("rtt_s"))
            if offset is not None:
                rec.offset_s, rec.rtt_s = offset, rtt
        elif name == "missing":
            opened.setdefault(rec.name, (max(t - MISSING_AFTER_S, rec.joined[-1] if rec.joined else -math.inf),
                                         "missing"))
        elif name == "quit":
            rec.end = "quit"
            if t < ordinary_quit:
                opened.setdefault(rec.name, (t, "quit"))
        else:  # lost: it went missing and never came back
            rec.end = "lost"
            if rec.name not in opened:
                opened[rec.name] = (rec.joined[-1] if rec.joined else t0, "lost")
    for name in list(opened):
        close(records[name], math.inf)
    return sorted(records.values(), key=lambda r: (r.joined[0] if r.joined else math.inf, r.name))


def load_gaps(records: list[WorkerRecord]) -> list[Interval]:
    """The union of every worker's load gaps (epoch), sorted and disjoint."""
    return merge([g.interval for r in records for g in r.gaps])


def count_lines(path: Path) -> int | None:
    """How many lines a history file holds (None: no such file)."""
    try:
        with path.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except OSError:
        return None


def _span(window: RunWindow, a: float, b: float) -> list[float | None]:
    return [window.offset(a), window.offset(b)]


def section(records: list[WorkerRecord], window: RunWindow, run_dir: Path, events: list[dict]) -> dict:
    """result.json's generator fields about remote workers: one row per worker, every worker line as an event
    (offsets from load start), and the merged windows judged inconclusive."""
    workers = [{
        "worker": r.name,
        "joined_s": window.offset(r.joined[0]) if r.joined else None,
        "offset_s": r.offset_s,
        "rtt_s": r.rtt_s,
        "missing": [_span(window, g.start, g.end) for g in r.gaps if g.why != "ramp"],
        "ramp": [_span(window, g.start, g.end) for g in r.gaps if g.why == "ramp"],
        "end": r.end,
        "lines": count_lines(Path(run_dir) / files.history_of(r.name)),
    } for r in records]
    lines = [{"t_s": window.offset(float(e["t"])), "name": e["name"], "worker": e["worker"],
              "offset_s": _number(e.get("offset_s")), "rtt_s": _number(e.get("rtt_s")),
              "detail": e.get("detail") if isinstance(e.get("detail"), str) else None}
             for e in worker_lines(events)]
    return {"workers": workers, "worker_events": lines,
            "inconclusive": [_span(window, a, b) for a, b in load_gaps(records)]}


def notes(records: list[WorkerRecord], window: RunWindow) -> list[str]:
    """One note per load gap, for result.json's notes (the report's "read this first")."""
    out = []
    for r in records:
        for g in r.gaps:
            out.append(f"load worker {r.name}: {WHY[g.why]} from {window.offset(g.start)} s to "
                       f"{window.offset(g.end)} s: availability over that window is inconclusive (its load was "
                       "missing), never counted as an outage")
    return out
