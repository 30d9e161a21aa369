"""Availability as the clients saw it, from the history: success ratios, outages, recovery, latency, the
per-second series for the charts, and the error-budget burn.

Conventions (each chosen so a number means what a buyer experienced):

* An operation belongs to the second and the phase in which it *completed*: that is when its client learnt
  the outcome. Only operations *invoked* inside the load window count (finish() filtered them).
* success ratio = ok / (ok + fail + info); an indeterminate operation is not a success.
* An outage of an op is the time from when a client started trying (the first invocation after the last
  success) to the next success. Between two consecutive successful completions `a < b` the outage is
  `[max(a, first invocation of any attempt completing after a), b]`; a gap in which nobody tried is not an
  outage. The first gap starts at load start, and a gap with no success before load stop is `open`.
  Outages are clamped to the load window and, per phase, clipped to the phase's intervals.
* recovery after an injection: `first_success_s` = to the first success of an operation *invoked* after it
  (operations already in flight do not show the system recovered); `recovery_s` = to the start of the first
  run of 3 consecutive seconds (aligned to the injection) each with a success ratio >= 0.95 and at least one
  completion. Never recovered before load stop: `recovery_s` is the time to load stop, marked `censored`.
* `unsure` windows (a remote load worker missing, drills/checks/worker_health.py): nobody can say what buyers
  saw there, so an outage never runs through one: it is cut into the parts before and after (each still an
  outage if at least REFINE_ABOVE_S long).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drills.checks.history import OUTCOMES, Attempts, History
from drills.checks.quantiles import percentiles
from drills.checks.window import FAULT_PHASES, INF, SCENARIO_PHASES, Interval, RunWindow, merge
from drills.scenario.model import SLO

REFINE_ABOVE_S = 0.1      # gaps between successes shorter than this are not examined
LIST_ABOVE_S = 1.0        # outages listed for the report
RECOVERY_STREAK = 3       # consecutive good seconds
RECOVERY_RATIO = 0.95     # a good second's success ratio
PHASE_NAMES = ("all",) + SCENARIO_PHASES + FAULT_PHASES

Parts = list[dict[str, Attempts]]


@dataclass
class Outage:
    """A client-observed outage of one op (epoch seconds)."""

    op: str
    start: float
    end: float
    open: bool = False

    @property
    def duration(self) -> float:
        return self.end - self.start


def count_in(times: np.ndarray, intervals: list[Interval]) -> int:
    """How many sorted `times` fall in the half-open intervals."""
    if not intervals:
        return 0
    at = np.searchsorted(times, np.array(intervals, dtype=np.float64).ravel(), "left")
    return int((at[1::2] - at[0::2]).sum())


def overlap(start: float, end: float, intervals: list[Interval]) -> float:
    """Length of [start, end] inside the intervals."""
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in intervals)


def outside(o: Outage, unsure: list[Interval]) -> list[Outage]:
    """The parts of an outage outside the sorted, disjoint `unsure` windows that are still outages (at least
    REFINE_ABOVE_S); only the part that ends where the outage ends keeps its `open`."""
    pieces, start = [], o.start
    for a, b in unsure:
        if b <= start or a >= o.end:
            continue
        if a - start >= REFINE_ABOVE_S:
            pieces.append(Outage(o.op, start, a))
        start = max(start, b)
    if o.end - start >= REFINE_ABOVE_S:
        pieces.append(Outage(o.op, start, o.end, open=o.open))
    return pieces


def ratio(ok: int, total: int) -> float | None:
    return ok / total if total else None


class Availability:
    """Availability metrics over one run's history and window; results are cached per (op, phase)."""

    def __init__(self, history: History, window: RunWindow, slo: SLO, unsure: list[Interval] | None = None) -> None:
        self.history = history
        self.window = window
        self.slo = slo
        self.unsure = merge(unsure or [])   # load gaps: no outage runs through them (module docstring)
        self._outages: dict[str, list[Outage]] = {}
        self._latency: dict[tuple[str, str], dict] = {}
        self._ok_times: dict[str, np.ndarray] = {}

    # building blocks -------------------------------------------------------------------------------------

    def ops(self) -> list[str]:
        return self.history.op_names()

    def headline_op(self) -> str:
        """The op the summary talks about: purchases when there are any (the budgets' default)."""
        return "purchase" if "purchase" in self.history.ops else "all"

    def parts(self, op: str) -> Parts:
        if op == "all":
            return list(self.history.ops.values())
        per = self.history.ops.get(op)
        return [per] if per else []

    def counts(self, op: str, phase: str = "all") -> dict[str, int]:
        intervals = self.window.intervals(phase)
        out = dict.fromkeys(OUTCOMES, 0)
        for part in self.parts(op):
            for outcome in OUTCOMES:
                out[outcome] += count_in(part[outcome].complete, intervals)
        return out

    def success_ratio(self, op: str, phase: str = "all") -> float | None:
        c = self.counts(op, phase)
        return ratio(c["ok"], c["ok"] + c["fail"] + c["info"])

    def latencies(self, op: str, phase: str = "all") -> np.ndarray:
        """Latencies (ms, int32) of the acknowledged operations of `op` completing in `phase`."""
        intervals = self.window.intervals(phase)
        out: list[np.ndarray] = []
        for part in self.parts(op):
            att = part["ok"]
            for a, b in intervals:
                if a == -INF and b == INF:
                    out.append(att.latency_ms)
                else:
                    lo, hi = np.searchsorted(att.complete, (a, b), "left").tolist()
                    out.append(att.latency_ms[lo:hi])
        return np.concatenate(out) if out else np.empty(0, dtype=np.int32)

    def latency(self, op: str, phase: str = "all") -> dict[str, float | None]:
        """Exact nearest-rank p50/p95/p99 (ms) of acknowledged operations; None when there are none."""
        key = (op, phase)
        if key not in self._latency:
            self._latency[key] = percentiles(self.latencies(op, phase))
        return self._latency[key]

    def ok_times(self, op: str) -> np.ndarray:
        """The completions of `op`'s acknowledged attempts, sorted (every op's merged for "all")."""
        if op not in self._ok_times:
            parts = self.parts(op)
            if len(parts) == 1:
                self._ok_times[op] = parts[0]["ok"].complete
            else:
                merged = np.concatenate([part["ok"].complete for part in parts]) if parts else np.empty(0)
                merged.sort()
                self._ok_times[op] = merged
        return self._ok_times[op]

    # outages ---------------------------------------------------------------------------------------------

    def _max_latency_s(self, parts: Parts) -> float:
        return max((p[o].max_latency_ms() for p in parts for o in OUTCOMES if len(p[o])), default=0) / 1000.0

    def _first_attempt_after(self, parts: Parts, a: float, horizon: float) -> float | None:
        """Earliest invocation among attempts completing in (a, horizon]."""
        best: float | None = None
        for part in parts:
            for outcome in OUTCOMES:
                att = part[outcome]
                j0, j1 = np.searchsorted(att.complete, (a, horizon), "right").tolist()
                if j0 < j1:
                    m = float(att.invoked(j0, j1).min())
                    best = m if best is None or m < best else best
        return best

    def outages(self, op: str) -> list[Outage]:
        """Every client-observed outage of `op` of at least REFINE_ABOVE_S (see the module docstring)."""
        if op in self._outages:
            return self._outages[op]
        parts = self.parts(op)
        w0, w1 = self.window.t0, self.window.t_end
        out: list[Outage] = []
        if any(len(p[o]) for p in parts for o in OUTCOMES):
            ok = self.ok_times(op)
            lo, hi = int(np.searchsorted(ok, w0, "left")), int(np.searchsorted(ok, w1, "right"))
            inner = ok[lo:hi]
            pts = np.concatenate(([w0], inner, [w1]))      # the marks: load start, each success, load stop
            last = len(pts) - 2
            maxlat = self._max_latency_s(parts)
            for k in np.flatnonzero(np.diff(pts) >= REFINE_ABOVE_S).tolist():    # gap >= 0.1 s
                a = w0 if k == 0 else float(ok[lo + k - 1])
                b = w1 if k == last else float(ok[lo + k])
                first = self._first_attempt_after(parts, a, b + maxlat)
                if first is None or first >= b:
                    continue
                start = max(a, first)
                if b - start >= REFINE_ABOVE_S:
                    out.append(Outage(op, start, b, open=(k == last)))
        if self.unsure:
            out = [piece for o in out for piece in outside(o, self.unsure)]
        self._outages[op] = out
        return out

    def longest_outage(self, op: str, phase: str = "all") -> tuple[float | None, Outage | None]:
        """(seconds, window) of the longest outage clipped to `phase`; (None, None) when `op` was not
        attempted in the phase; 0.0 when no gap reached REFINE_ABOVE_S."""
        c = self.counts(op, phase)
        if not (c["ok"] + c["fail"] + c["info"]) and not self._attempted_across(op, phase):
            return None, None
        intervals = self.window.intervals(phase)
        best, best_window = 0.0, None
        for o in self.outages(op):
            d = overlap(o.start, o.end, intervals)
            if d > best:
                best, best_window = d, o
        return round(best, 3), best_window

    def _attempted_across(self, op: str, phase: str) -> bool:
        """An outage can cover a whole phase with no completion in it: count that phase as attempted."""
        intervals = self.window.intervals(phase)
        return any(overlap(o.start, o.end, intervals) > 0 for o in self.outages(op))

    # recovery --------------------------------------------------------------------------------------------

    def _second_ok_total(self, parts: Parts, a: float, b: float) -> tuple[int, int]:
        ok = total = 0
        for part in parts:
            for outcome in OUTCOMES:
                lo, hi = np.searchsorted(part[outcome].complete, (a, b), "left").tolist()
                n = hi - lo
                total += n
                if outcome == "ok":
                    ok += n
        return ok, total

    def stable_after(self, op: str, t: float) -> float | None:
        """Start (epoch) of the first RECOVERY_STREAK good seconds after `t`, or None before load stop."""
        parts = self.parts(op)
        streak = 0
        # a second without a completion is not a good one: start just before the first completion after `t`
        # (the same answer, without walking the seconds of a fault injected long before the load, say at 0)
        firsts = [float(c[j]) for part in parts for o in OUTCOMES
                  if (j := int(np.searchsorted(c := part[o].complete, t, "left"))) < len(c)]
        if not firsts:
            return None
        k = max(0, math.floor(min(firsts) - t) - 1)
        while t + k + 1 <= self.window.t_end + 1e-9:
            ok, total = self._second_ok_total(parts, t + k, t + k + 1)
            streak = streak + 1 if total and ok / total >= RECOVERY_RATIO else 0
            if streak == RECOVERY_STREAK:
                return t + k + 1 - RECOVERY_STREAK
            k += 1
        return None

    def first_success_after(self, op: str, t: float) -> float | None:
        """Completion (epoch) of the first acknowledged `op` invoked at or after `t`."""
        found = [f for part in self.parts(op) if (f := part["ok"].first_invoked_from(t)) is not None]
        return min(found) if found else None

    def recovery(self, op: str) -> list[dict]:
        """Per injection that took effect: first success and stable recovery, from injection and heal."""
        rows = []
        for f in self.window.faults:
            if not f.took_effect:
                continue
            t = f.injected_t
            assert t is not None
            first = self.first_success_after(op, t)
            stable = self.stable_after(op, t)
            from_heal = self.stable_after(op, f.healed_t) if f.healed_t is not None else None
            rows.append({
                "fault_id": f.id, "iteration": f.iteration, "op": op,
                "injected_s": self.window.offset(t),
                "first_success_s": None if first is None else round(first - t, 3),
                "recovery_s": round((stable if stable is not None else self.window.t_end) - t, 3),
                "recovered": stable is not None,
                "censored": stable is None,
                "from_heal_s": None if from_heal is None or f.healed_t is None else round(from_heal - f.healed_t, 3),
            })
        return rows

    # error budget ----------------------------------------------------------------------------------------

    def error_budget(self, op: str, phase: str = "all") -> dict:
        """Share of the SLO period's error budget this drill spent.

        The drill's bad operations (fail + info in `phase`) are turned into *equivalent seconds of total
        outage* at the drill's own request rate: bad / total_ops(whole load window) * load_duration_s.
        The period allows (1 - target) * period_s such seconds. burn = the first over the second, so
        1.0 means this one incident spent the whole period's budget (e.g. 30 days at 99.99 % allow 259.2 s;
        5 % of operations failing for a 60 s drill is 3 s, a burn of 0.0116). `burn_rate` is the classic
        rate: the phase's error ratio / (1 - target) (1.0 = spending exactly at the sustainable pace).
        """
        c, whole = self.counts(op, phase), self.counts(op, "all")
        bad, total_phase = c["fail"] + c["info"], sum(c.values())
        total = sum(whole.values())
        allowed_s = (1.0 - self.slo.target) * self.slo.period_days * 86400.0
        if not total:
            return {"bad_ops": 0, "total_ops": 0, "bad_seconds": None, "allowed_seconds": allowed_s,
                    "burn": None, "burn_rate": None}
        bad_seconds = bad / total * self.window.duration_s
        burn = bad_seconds / allowed_s if allowed_s > 0 else (0.0 if bad == 0 else None)
        phase_ratio = bad / total_phase if total_phase else None
        burn_rate = (phase_ratio / (1.0 - self.slo.target) if phase_ratio is not None and self.slo.target < 1
                     else None)
        return {"bad_ops": bad, "total_ops": total, "bad_seconds": round(bad_seconds, 3),
                "allowed_seconds": round(allowed_s, 3), "burn": None if burn is None else round(burn, 6),
                "burn_rate": None if burn_rate is None else round(burn_rate, 3)}

    # series ----------------------------------------------------------------------------------------------

    def series(self, op: str) -> list[dict]:
        """Per-second rows (offset `t` from load start): ok/fail/info, p50/p99 of ok latency, success ratio."""
        parts = self.parts(op)
        last = max((float(p[o].complete[-1]) for p in parts for o in OUTCOMES if len(p[o])), default=None)
        if last is None:
            return []
        t0 = self.window.t0
        seconds = max(1, math.ceil(max(self.window.t_end, last) - t0))
        bounds = np.array([t0 + k for k in range(seconds + 1)], dtype=np.float64)
        per_second = {o: np.zeros(seconds, dtype=np.int64) for o in OUTCOMES}
        ok_slices: list[tuple[np.ndarray, list[int]]] = []
        for part in parts:
            for outcome in OUTCOMES:
                att = part[outcome]
                idx = np.searchsorted(att.complete, bounds, "left")
                per_second[outcome] += np.diff(idx)
                if outcome == "ok":
                    ok_slices.append((att.latency_ms, idx.tolist()))
        counts = {o: col.tolist() for o, col in per_second.items()}
        rows = []
        for k in range(seconds):
            slices = [values[idx[k]:idx[k + 1]] for values, idx in ok_slices if idx[k + 1] > idx[k]]
            lat = slices[0] if len(slices) == 1 else np.concatenate(slices) if slices else np.empty(0, np.int32)
            q = percentiles(lat, (50, 99))
            ok, fail, info = counts["ok"][k], counts["fail"][k], counts["info"][k]
            rows.append({"t": k, "ok": ok, "fail": fail, "info": info, "p50_ms": q["p50"], "p99_ms": q["p99"],
                         "success_ratio": None if not ok + fail + info else round(ok / (ok + fail + info), 4)})
        return rows

    # summary ---------------------------------------------------------------------------------------------

    def phase_summary(self, op: str, phase: str, with_latency: bool = True) -> dict:
        c = self.counts(op, phase)
        longest, _ = self.longest_outage(op, phase)
        sr = ratio(c["ok"], sum(c.values()))
        row: dict = {**c, "success_ratio": None if sr is None else round(sr, 6), "longest_outage_s": longest}
        if with_latency:
            row["latency_ms"] = self.latency(op, phase)
        return row

    def outage_rows(self) -> list[dict]:
        """Outages of every op at least LIST_ABOVE_S long, as offsets from load start."""
        rows = []
        for op in self.ops():
            for o in self.outages(op):
                if o.duration >= LIST_ABOVE_S:
                    rows.append({"op": op, "start": self.window.offset(o.start), "end": self.window.offset(o.end),
                                 "duration_s": round(o.duration, 3), "open": o.open})
        return sorted(rows, key=lambda r: (r["start"], r["op"]))
