"""What of a result applies to the system that was drilled, so the console and the report show only that.

A user's own system may have no leader, no seats and no credentials: a "no leader" lane all along, a failover
of "—" and rows of unknown oversold seats would say something about the reference stack, not about it. The
rules live here once; the console summary (summary.py) and report.html (page.py, view.py) both ask them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drills.checks.result_model import DATA_LOSS_COUNTS

# Node states only a system with a leader shows (Patroni's roles, drills/checks/cluster.py).
LEADER_STATES = frozenset(("leader", "leader_unprotected", "sync_standby", "replica", "unknown"))


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def has_leader(result: Mapping[str, Any]) -> bool:
    """Whether the drilled system has a leader drills can see: a probe named one, a node had a leader's or a
    replica's role, or a failover was measured."""
    cluster = _dict(result.get("cluster"))
    if any(isinstance(s, Mapping) and s.get("leader") for s in _list(cluster.get("leader"))):
        return True
    for spans in _dict(cluster.get("nodes")).values():
        if any(isinstance(s, Mapping) and s.get("state") in LEADER_STATES for s in _list(spans)):
            return True
    return bool(_list(_dict(result.get("availability")).get("failovers")))


def budgeted(result: Mapping[str, Any], metric: str) -> bool:
    """Whether a budget judges `metric`."""
    return any(isinstance(b, Mapping) and b.get("metric") == metric for b in _list(result.get("budgets")))


def shows_failover(result: Mapping[str, Any]) -> bool:
    """Failover numbers apply to a system with a leader, or when a budget asks for them."""
    return has_leader(result) or budgeted(result, "failover_s")


# the data-loss audit ---------------------------------------------------------------------------------------------

# The audit's counts that are data lost or damaged (any above 0 is shown red), whatever model found them.
DATA_LOSS_KEYS = frozenset((*DATA_LOSS_COUNTS, "unique_violations", "counter_mismatch"))
AUDIT_LISTS = ("samples", "errors", "models")   # the audit's parts that are not counts


def audit_counts(result: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The audit's counts to show, in the audit's order: those it has and knows, and the unknown ones a budget
    judges (an unknown count nothing asks for is about something this system does not have: the reference
    stack's seats or credentials, say)."""
    audit = _dict(result.get("audit"))
    judged = {b.get("metric") for b in _list(result.get("budgets")) if isinstance(b, Mapping)}
    return [(k, v) for k, v in audit.items()
            if k not in AUDIT_LISTS and not isinstance(v, (dict, list)) and (v is not None or k in judged)]


def audit_unknown_reasons(result: Mapping[str, Any]) -> list[str]:
    """Why data-loss numbers are unknown, in the audit's own words (its `errors`: a final read that failed, a
    collection not read whole, malformed rows), when any shown count or any data-loss budget is unknown; [] when
    nothing is unknown. Never a bare "unknown": without errors, the final state's condition says why."""
    audit = _dict(result.get("audit"))
    unknown = any(v is None for k, v in audit_counts(result) if k in DATA_LOSS_KEYS) or any(
        isinstance(b, Mapping) and b.get("metric") in DATA_LOSS_KEYS and b.get("passed") is None
        and b.get("metric") in audit for b in _list(result.get("budgets")))
    if not unknown:
        return []
    reasons = [str(e) for e in _list(audit.get("errors")) if e]
    if not reasons:
        state = audit.get("final_state")
        reasons = [f"the final state is {state}: nothing to compare the acknowledged writes with"
                   if state in ("missing", "incomplete") else "nothing to judge (no acknowledged write)"]
    return list(dict.fromkeys(reasons))
