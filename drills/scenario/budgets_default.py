"""The budgets a drill is judged by when its scenario names none.

Two kinds, as an SRE reviewing a failover would ask:

* correctness, zero tolerance: nothing acknowledged is lost, nothing reported as definitely failed happened
  anyway, no idempotency key buys twice, no seat is sold twice, no acknowledged password rotation is undone.
  A failover may cost time; it must never cost data.
* availability, loose enough for a real failover: Patroni needs ~10 s (ttl) plus ~2 s of HAProxy checks to
  move the leader, so over the default 90 s of load purchases succeed at least 90 % of the time and never
  stop for more than 30 s; once every fault is healed (the recovery phase) at least 95 % succeed, so a
  stack that never comes back fails even if its fault came late.

Not by default: a `during_fault` floor (while a leader is down writes are expected to fail, so it measures
the fault's length rather than the system) and `revoked_sessions_working` (unknown, hence an inconclusive
verdict, whenever the history holds no session that predates a rotation). Scenarios that want them add them.
"""

from __future__ import annotations

from drills.scenario.model import Budget, Phases


def default_budgets(phases: Phases | None = None) -> list[Budget]:
    """Fresh Budget objects (callers may mutate them).

    With `phases` whose recovery is 0 the recovery-phase budget is left out: it would have nothing to judge,
    and an unknown budget makes the verdict inconclusive.
    """
    budgets = [
        Budget(metric="lost", max=0, op="purchase"),
        Budget(metric="unexpected", max=0, op="purchase"),
        Budget(metric="duplicated", max=0, op="purchase"),
        Budget(metric="oversold", max=0, op="purchase"),
        Budget(metric="credential_changes_lost", max=0, op="rotate_password"),
        Budget(metric="success_ratio", min=0.9, op="purchase", phase="all"),
        Budget(metric="success_ratio", min=0.95, op="purchase", phase="recovery"),
        Budget(metric="longest_outage_s", max=30, op="purchase", phase="all"),
    ]
    if phases is not None and phases.recovery <= 0:
        budgets = [b for b in budgets if b.phase != "recovery"]
    return budgets
