"""Judge each scenario budget against the computed numbers.

`passed` is True, False or None. None ("unknown") means there was nothing to judge -- no operation in
scope, no acknowledged purchase, no final state, no fault that took effect -- and makes the verdict
inconclusive, never pass. A *censored* value is a lower bound (e.g. never recovered before load stop): it
fails a `max` it already exceeds and is otherwise unknown. A *never* value is a censored one for something
that was not going to happen at all (`rto_s` after a failed restore, or with no purchase acknowledged again
before load stop): it fails any `max`, whatever the lower bound is (drills/checks/recovery.py).
"""

from __future__ import annotations

from drills.checks.measurements import Measurements
from drills.checks.observation import Observation
from drills.checks.observers import OBSERVERS
from drills.scenario.metrics import ALERT_METRICS
from drills.scenario.model import Budget


def observe(metric: str, op: str, phase: str, m: Measurements) -> Observation:
    """The observed value of one metric in one scope, by the metric's observer (drills/checks/observers.py)."""
    observer = OBSERVERS.get(metric)
    if observer is None:
        return Observation(None, f"unknown metric {metric!r}")
    return observer(m, op, phase)


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
        per_alert = b.metric in ALERT_METRICS   # judged per alert: the observer's scope is the alert, not an op
        obs = observe(b.metric, (b.alert or "") if per_alert else b.op, b.phase, m)
        rows.append({"name": b.display, "metric": b.metric, "op": b.op, "phase": b.phase,
                     "limit": {"min": b.min, "max": b.max}, "observed": obs.value, "passed": passed(b, obs),
                     "detail": obs.detail, "censored": obs.censored, **({"never": True} if obs.never else {}),
                     **({"alert": b.alert} if per_alert else {})})
    return rows
