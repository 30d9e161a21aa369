"""The function that observes each budget metric, bound to the metric's registry row by name.

The rows (unit, direction, meaning, kind) are in drills/scenario/metrics.py; each function here turns a run's
measurements into an Observation for one metric in one scope (op, phase). A unit test fails when a row has no
observer or an observer no row. The numbers themselves are computed in the modules named after them
(availability, probes, audit, recovery); an observer only picks them and says why the value is what it is.
"""

from __future__ import annotations

from collections.abc import Callable

from drills.checks.alerting import AlertJudgement
from drills.checks.measurements import Measurements
from drills.checks.observation import Observation
from drills.checks.recovery import RPO_OPS, Recovery

Observer = Callable[[Measurements, str, str], Observation]   # (measurements, op, phase) -> observation

OBSERVERS: dict[str, Observer] = {}


def observes(*metrics: str) -> Callable[[Observer], Observer]:
    """Register the decorated function as the observer of `metrics` (each exactly once)."""
    def register(fn: Observer) -> Observer:
        for metric in metrics:
            if metric in OBSERVERS:
                raise ValueError(f"{metric} is observed twice")
            OBSERVERS[metric] = fn
        return fn
    return register


def _worst(rows: list[dict], key: str, none_reason: str) -> Observation:
    values = [r for r in rows if r.get(key) is not None]
    if not values:
        return Observation(None, none_reason)
    worst = max(values, key=lambda r: r[key])
    censored = any(r.get("censored") for r in values)
    detail = f"worst of {len(values)}" + ("; at least one is a lower bound (did not complete)" if censored else "")
    return Observation(worst[key], detail, censored)


# availability, from the history ---------------------------------------------------------------------------------

@observes("success_ratio")
def success_ratio(m: Measurements, op: str, phase: str) -> Observation:
    c = m.availability.counts(op, phase)
    total = c["ok"] + c["fail"] + c["info"]
    if not total:
        return Observation(None, f"no {op} operations in phase {phase}")
    return Observation(round(c["ok"] / total, 6), f"{c['ok']} ok of {total} ({c['fail']} fail, {c['info']} info)")


@observes("longest_outage_s")
def longest_outage(m: Measurements, op: str, phase: str) -> Observation:
    av = m.availability
    value, window = av.longest_outage(op, phase)
    if value is None:
        return Observation(None, f"no {op} operations in phase {phase}")
    if window is None:
        return Observation(value, "no gap between successes reached 0.1 s")
    w = av.window
    return Observation(value, f"{op} outage from {w.offset(window.start)} s to {w.offset(window.end)} s"
                       + (" (still out at load stop)" if window.open else ""), window.open)


@observes("recovery_s")
def recovery(m: Measurements, op: str, phase: str) -> Observation:
    return _worst(m.recovery(op), "recovery_s", "no fault took effect")


_QUANTILE = {"latency_p50_ms": "p50", "latency_p95_ms": "p95", "latency_p99_ms": "p99"}


def _latency(metric: str) -> Observer:
    def observe(m: Measurements, op: str, phase: str) -> Observation:
        av = m.availability
        q = av.latency(op, phase)[_QUANTILE[metric]]
        if q is None:
            return Observation(None, f"no acknowledged {op} operations in phase {phase}")
        return Observation(q, f"nearest-rank over {len(av.latencies(op, phase))} acknowledged {op} operations")
    return observe


for _metric in _QUANTILE:
    observes(_metric)(_latency(_metric))


@observes("error_budget_burn")
def error_budget_burn(m: Measurements, op: str, phase: str) -> Observation:
    eb = m.availability.error_budget(op, phase)
    if eb["burn"] is None:
        return Observation(None, f"no {op} operations" if not eb["total_ops"] else "SLO target leaves no budget")
    return Observation(eb["burn"], f"{eb['bad_ops']} bad {op} operations = {eb['bad_seconds']} s of full outage "
                       f"of {eb['allowed_seconds']} s allowed per SLO period")


# from the probes ------------------------------------------------------------------------------------------------

@observes("failover_s")
def failover(m: Measurements, op: str, phase: str) -> Observation:
    reason = "the probes saw no leader change" if m.probes_present else "no probes.jsonl"
    return _worst(m.failovers, "failover_s", reason)


@observes("detection_s")
def detection(m: Measurements, op: str, phase: str) -> Observation:
    rows = [d for d in m.detections if d.get("targets")]
    reason = "no fault with a probed target" if m.probes_present else "no probes.jsonl"
    return _worst(rows, "detection_s", reason)


# data loss, from the audit (history + final state) --------------------------------------------------------------

_AUDIT_UNKNOWN = {
    "lost": "no acknowledged {writes} to look for",
    "credential_changes_lost": "no acknowledged password rotation",
    "revoked_sessions_working": "no recorded session predates an acknowledged rotation (the history records no "
                                "tokens?)",
}


def _writes_word(audit: dict) -> str:
    """What the audit's writes are called: a declared audit's are writes, the reference stack's purchases."""
    return "writes" if "models" in audit else "purchases"


def _audit_detail(metric: str, audit: dict) -> str:
    if metric == "lost":
        return (f"{audit.get('acknowledged')} acknowledged {_writes_word(audit)}; {audit.get('indeterminate')} "
                f"indeterminate ({audit.get('indeterminate_applied')} took effect) are never counted as lost")
    if metric == "credential_changes_lost":
        return (f"{audit.get('rotations_acknowledged')} acknowledged rotations; logins tried for "
                f"{audit.get('credentials_checked')} users")
    if metric == "revoked_sessions_working":
        return f"{audit.get('sessions_checked')} revoked sessions tried"
    return ""


def _audited(metric: str) -> Observer:
    def observe(m: Measurements, op: str, phase: str) -> Observation:
        value = m.audit.get(metric)
        if value is None:
            errors = [e for e in m.audit.get("errors") or [] if isinstance(e, str)]
            if m.audit.get("final_state") != "complete":
                why = f": {errors[0]}" if errors else ": nothing to compare the history with"
                return Observation(None, f"final state {m.audit.get('final_state')}{why}")
            failed = [r["error"] for r in m.audit.get("models") or [] if isinstance(r, dict) and r.get("error")]
            if failed:   # read whole, yet a model could not judge it (malformed rows, a collection missing)
                return Observation(None, str(failed[0]))
            return Observation(None, _AUDIT_UNKNOWN.get(metric, "not measured").format(
                writes=_writes_word(m.audit)[:-1]))
        narrowed = _per_write_op(m.audit, metric, op)
        if narrowed is not None:
            return narrowed
        return Observation(value, _audit_detail(metric, m.audit))
    return observe


def _per_write_op(audit: dict, metric: str, op: str) -> Observation | None:
    """A declared audit judges each model on its own writes: a budget whose `op` is one of them counts only the
    models over that op's writes (a model over several ops counts all of them, and says so). None: the budget's
    op names no declared write, so the audit's total applies."""
    rows = [r for r in audit.get("models") or [] if isinstance(r, dict) and op in (r.get("writes") or [])
            and metric in r]
    if not rows:
        return None
    if any(r.get(metric) is None for r in rows):
        failed = next((r.get("error") for r in rows if r.get("error")), None)
        return Observation(None, str(failed or f"{metric} unknown for {op}"))
    value = sum(int(r[metric]) for r in rows)
    shared = sorted({w for r in rows for w in r.get("writes") or []} - {op})
    acked = sum(int(r.get("acknowledged") or 0) for r in rows)
    detail = f"{acked} acknowledged {op} writes in {', '.join(str(r.get('name')) for r in rows)}"
    if metric == "lost":
        applied = sum(int(r.get("indeterminate_applied") or 0) for r in rows)
        detail += f"; {applied + sum(int(r.get('indeterminate_not_applied') or 0) for r in rows)} indeterminate " \
                  f"({applied} took effect) are never counted as lost"
    return Observation(value, detail + (f" (the model also covers {', '.join(shared)})" if shared else ""))


for _metric in ("lost", "unexpected", "duplicated", "oversold", "sold_over_capacity", "credential_changes_lost",
                "revoked_sessions_working", "unique_violations", "counter_mismatch"):
    observes(_metric)(_audited(_metric))


# disaster recovery (drills/checks/recovery.py) ------------------------------------------------------------------

def _disaster(fn: Callable[[Recovery, str], Observation]) -> Observer:
    """An observer of the Recovery numbers, which are unknown when they were not computed at all."""
    def observe(m: Measurements, op: str, phase: str) -> Observation:
        if m.disaster is None:
            return Observation(None, "recovery metrics not computed")
        return fn(m.disaster, op)
    return observe


@observes("rto_s")
@_disaster
def rto(r: Recovery, op: str) -> Observation:
    return Observation(r.rto["value"], r.rto["detail"], censored=r.rto["never"], never=r.rto["never"])


@observes("rpo_s")
@_disaster
def rpo_seconds(r: Recovery, op: str) -> Observation:
    rpo = r.rpo_seconds()
    return Observation(rpo["value"], rpo["detail"])


@observes("rpo_ops")
@_disaster
def rpo_ops(r: Recovery, op: str) -> Observation:
    if op not in RPO_OPS:
        return Observation(None, f"rpo_ops counts op purchase, rotate_password or all, not {op}")
    why = r.unknown_loss()
    if why is not None:
        return Observation(None, why)
    value = r.rpo_ops()[op]
    if value is None:
        what = {"purchase": "purchase", "rotate_password": "password rotation"}.get(op, "write")
        return Observation(None, f"no {what} was acknowledged before the restore: nothing to lose")
    return Observation(value, f"acknowledged {'writes' if op == 'all' else op + 's'} invoked before the old "
                              f"cluster was gone (at {r.window.offset(r.cutoff)} s) and missing from the final state")


@observes("resold_seats")
@_disaster
def resold_seats(r: Recovery, op: str) -> Observation:
    why = r.unknown_loss()
    if why is not None:
        return Observation(None, why)
    count, rows = r.resold()
    if count is None:
        return Observation(None, "no purchase was lost by a restore: no seat to sell twice")
    example = f", e.g. seat {rows[0]['seat_no']}" if rows else ""
    return Observation(count, "seats whose acknowledged purchase the restore lost and that another purchase bought "
                              f"(and was acknowledged) afterwards{example}")


@observes("lost_after_recovery")
@_disaster
def lost_after_recovery(r: Recovery, op: str) -> Observation:
    why = r.unknown_loss()
    if why is not None:
        return Observation(None, why)
    if r.recovered_by is None:
        return Observation(None, "no restore succeeded after the last disaster: there is no recovered cluster to "
                                 "hold to its acknowledgements")
    value = r.lost_after()["all"]
    if value is None:
        return Observation(None, "no purchase or rotation was acknowledged after the restore")
    return Observation(value, f"acknowledged purchases and rotations invoked after {r.recovered_by.label} removed "
                              f"the old cluster (at {r.window.offset(r.cutoff)} s) and missing from the final state")


# the harness, from events.jsonl ---------------------------------------------------------------------------------

def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@observes("max_inject_delay_ms")
def max_inject_delay(m: Measurements, op: str, phase: str) -> Observation:
    """From each inject line's `scheduled_s` to its `started_s` (when the nemesis began it): a late fault
    struck another moment of the run than the scenario says, e.g. an `after:` chain that missed its restore."""
    injects = [e for e in m.events if e.get("kind") == "fault" and e.get("phase") == "inject"]
    late = [(max(0.0, started - scheduled), e) for e in injects
            if (scheduled := _seconds(e.get("scheduled_s"))) is not None
            and (started := _seconds(e.get("started_s"))) is not None]
    if not late:
        return Observation(None, "no inject line records when it started (written by an older runner?)" if injects
                           else "no fault was injected")
    delay, worst = max(late, key=lambda x: x[0])
    ms = round(delay * 1000.0, 1)
    name = f"{worst.get('fault_id')}" + (f" #{worst.get('iteration')}" if worst.get("iteration") else "")
    return Observation(ms, f"{name} started {ms} ms after its scheduled {worst.get('scheduled_s')} s (worst of "
                           f"{len(late)} injections)")


@observes("zone_served_gap_s")
def zone_served_gap(m: Measurements, op: str, phase: str) -> Observation:
    """The worst zone's longest gap in serving outside the faults that targeted it (drills/checks/per_zone.py)."""
    if not m.zones:
        return Observation(None, "the run recorded no placement over two zones or more (no `zones` event)")
    rows = [r for r in m.zones["zones"] if r.get("longest_gap_s") is not None]
    if not rows:
        return Observation(None, "no zone has an API replica that served anything")
    worst = max(rows, key=lambda r: r["longest_gap_s"])
    gap = worst.get("longest_gap") or {}
    return Observation(worst["longest_gap_s"], f"zone {worst['zone']}, {gap.get('start')} s to {gap.get('end')} s "
                                               f"(worst of {len(rows)} zones; its faults' time left out)")


# alerting, from alerts.jsonl (drills/checks/alerting.py) --------------------------------------------------------
# An alerting budget names no operation: `op` carries its `alert` ("" for every expected alert; budgets.evaluate).

def _alerting(pick: Callable[[AlertJudgement, str | None], Observation]) -> Observer:
    def observe(m: Measurements, op: str, phase: str) -> Observation:
        if m.alerting is None:
            return Observation(None, "alerts not judged")
        return pick(m.alerting, op or None)
    return observe


observes("time_to_fire_s")(_alerting(AlertJudgement.time_to_fire))
observes("time_to_resolve_s")(_alerting(AlertJudgement.time_to_resolve))
observes("missed_alerts")(_alerting(AlertJudgement.missed))
observes("false_alarms")(_alerting(AlertJudgement.false_alarm_count))
observes("alert_flaps")(_alerting(AlertJudgement.flaps))
