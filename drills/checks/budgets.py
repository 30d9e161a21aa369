"""Judge each scenario budget against the computed numbers.

`passed` is True, False or None. None ("unknown") means there was nothing to judge -- no operation in
scope, no acknowledged purchase, no final state, no fault that took effect -- and makes the verdict
inconclusive, never pass. A *censored* value is a lower bound (e.g. never recovered before load stop): it
fails a `max` it already exceeds and is otherwise unknown. A *never* value is a censored one for something
that was not going to happen at all (`rto_s` after a failed restore, or with no purchase acknowledged again
before load stop): it fails any `max`, whatever the lower bound is (drills/checks/recovery.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drills.checks.availability import Availability
from drills.scenario.model import Budget

if TYPE_CHECKING:
    from drills.checks.recovery import Recovery

AUDIT_METRICS = ("lost", "unexpected", "duplicated", "oversold", "sold_over_capacity", "credential_changes_lost",
                 "revoked_sessions_working")
LATENCY_METRICS = {"latency_p50_ms": "p50", "latency_p95_ms": "p95", "latency_p99_ms": "p99"}
RECOVERY_METRICS = ("rto_s", "rpo_s", "rpo_ops", "lost_after_recovery", "resold_seats")
# Judged on what the system kept, not on how fast it answered: a saturated load generator cannot excuse them.
DATA_SAFETY_METRICS = AUDIT_METRICS + ("rpo_s", "rpo_ops", "lost_after_recovery", "resold_seats")


@dataclass
class Observation:
    value: float | None
    detail: str = ""
    censored: bool = False
    never: bool = False      # never happened before load stop: `value` is a lower bound that fails any max


@dataclass
class Measurements:
    """Everything a budget can be judged against."""

    availability: Availability
    audit: dict[str, Any]
    failovers: list[dict] = field(default_factory=list)
    detections: list[dict] = field(default_factory=list)
    probes_present: bool = True
    disaster: Recovery | None = None     # RTO / RPO (drills/checks/recovery.py)
    _recovery: dict[str, list[dict]] = field(default_factory=dict)

    def recovery(self, op: str) -> list[dict]:
        if op not in self._recovery:
            self._recovery[op] = self.availability.recovery(op)
        return self._recovery[op]


def _worst(rows: list[dict], key: str, none_reason: str) -> Observation:
    values = [r for r in rows if r.get(key) is not None]
    if not values:
        return Observation(None, none_reason)
    worst = max(values, key=lambda r: r[key])
    censored = any(r.get("censored") for r in values)
    detail = f"worst of {len(values)}" + ("; at least one is a lower bound (did not complete)" if censored else "")
    return Observation(worst[key], detail, censored)


def observe(metric: str, op: str, phase: str, m: Measurements) -> Observation:
    """The observed value of one metric in one scope."""
    av = m.availability
    if metric == "success_ratio":
        c = av.counts(op, phase)
        total = c["ok"] + c["fail"] + c["info"]
        if not total:
            return Observation(None, f"no {op} operations in phase {phase}")
        return Observation(round(c["ok"] / total, 6), f"{c['ok']} ok of {total} ({c['fail']} fail, {c['info']} info)")
    if metric == "longest_outage_s":
        value, window = av.longest_outage(op, phase)
        if value is None:
            return Observation(None, f"no {op} operations in phase {phase}")
        if window is None:
            return Observation(value, "no gap between successes reached 0.1 s")
        w = av.window
        return Observation(value, f"{op} outage from {w.offset(window.start)} s to {w.offset(window.end)} s"
                           + (" (still out at load stop)" if window.open else ""), window.open)
    if metric in LATENCY_METRICS:
        q = av.latency(op, phase)[LATENCY_METRICS[metric]]
        if q is None:
            return Observation(None, f"no acknowledged {op} operations in phase {phase}")
        return Observation(q, f"nearest-rank over {len(av.latencies(op, phase))} acknowledged {op} operations")
    if metric == "recovery_s":
        return _worst(m.recovery(op), "recovery_s", "no fault took effect")
    if metric == "failover_s":
        reason = "the probes saw no leader change" if m.probes_present else "no probes.jsonl"
        return _worst(m.failovers, "failover_s", reason)
    if metric == "detection_s":
        rows = [d for d in m.detections if d.get("targets")]
        reason = "no fault with a probed target" if m.probes_present else "no probes.jsonl"
        return _worst(rows, "detection_s", reason)
    if metric == "error_budget_burn":
        eb = av.error_budget(op, phase)
        if eb["burn"] is None:
            return Observation(None, f"no {op} operations" if not eb["total_ops"] else "SLO target leaves no budget")
        return Observation(eb["burn"], f"{eb['bad_ops']} bad {op} operations = {eb['bad_seconds']} s of full outage "
                           f"of {eb['allowed_seconds']} s allowed per SLO period")
    if metric in RECOVERY_METRICS:
        if m.disaster is None:
            return Observation(None, "recovery metrics not computed")
        return m.disaster.observe(metric, op)
    if metric in AUDIT_METRICS:
        value = m.audit.get(metric)
        if value is None:
            return Observation(None, _audit_unknown(metric, m.audit))
        return Observation(value, _audit_detail(metric, m.audit))
    return Observation(None, f"unknown metric {metric!r}")


def _audit_unknown(metric: str, audit: dict) -> str:
    if audit.get("final_state") != "complete":
        return f"final state {audit.get('final_state')}: nothing to compare the history with"
    if metric == "lost":
        return "no acknowledged purchase to look for"
    if metric == "credential_changes_lost":
        return "no acknowledged password rotation"
    if metric == "revoked_sessions_working":
        return "no recorded session predates an acknowledged rotation (the history records no tokens?)"
    return "not measured"


def _audit_detail(metric: str, audit: dict) -> str:
    if metric == "lost":
        return (f"{audit.get('acknowledged')} acknowledged purchases; {audit.get('indeterminate')} indeterminate "
                f"({audit.get('indeterminate_applied')} took effect) are never counted as lost")
    if metric == "credential_changes_lost":
        return (f"{audit.get('rotations_acknowledged')} acknowledged rotations; logins tried for "
                f"{audit.get('credentials_checked')} users")
    if metric == "revoked_sessions_working":
        return f"{audit.get('sessions_checked')} revoked sessions tried"
    return ""


def passed(budget: Budget, obs: Observation) -> bool | None:
    """True/False, or None when the value is unknown or a lower bound that does not settle it."""
    if obs.value is None:
        return None
    if obs.never and budget.max is not None:
        return False
    checks: list[bool | None] = []
    if budget.max is not None:
        checks.append(obs.value <= budget.max if not obs.censored or obs.value > budget.max else None)
    if budget.min is not None:
        checks.append((obs.value >= budget.min) if not obs.censored or obs.value >= budget.min else None)
    if False in checks:
        return False
    if None in checks:
        return None
    return True


def evaluate(budgets: list[Budget], m: Measurements) -> list[dict]:
    """One result row per budget: {name, metric, op, phase, limit, observed, passed, detail, censored}."""
    rows = []
    for b in budgets:
        obs = observe(b.metric, b.op, b.phase, m)
        rows.append({"name": b.display, "metric": b.metric, "op": b.op, "phase": b.phase,
                     "limit": {"min": b.min, "max": b.max}, "observed": obs.value, "passed": passed(b, obs),
                     "detail": obs.detail, "censored": obs.censored, **({"never": True} if obs.never else {})})
    return rows
