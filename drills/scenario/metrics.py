"""The budget metric registry: each metric declared once, in one row.

A row says which direction is "good" (so a budget can only be written the way that makes sense: a floor on
success, a ceiling on outage or loss), the unit, what it means, and whether it judges availability or data
safety (a saturated load generator excuses the first, never the second). Everything else is derived from
these rows: the validator's list, both JSON Schemas, the report's units and directions, the docs table
(`python -m drills.checks.regenerate --write`). The function that observes each metric is bound to it by
name in drills/checks/observers.py (this layer cannot import the checks); a unit test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["ratio", "seconds", "ms", "count", "burn"]
Kind = Literal["availability", "data_safety", "alerting"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    bound: Literal["min", "max"]   # the only key a budget on this metric may use
    unit: Unit
    kind: Kind
    meaning: str                   # one line, for the docs table, the schema and the report
    whole_run: bool = False        # judged over the whole run: its budgets' `phase` can only be `all`
    ops: tuple[str, ...] = ()      # the only `op`s a budget may name (empty: any operation)
    per_alert: bool = False        # about alerts, not operations: a budget names an `alert`, never an `op`

    @property
    def higher_is_better(self) -> bool:
        return self.bound == "min"


_ROWS = (
    # availability, from the history
    MetricSpec("success_ratio", "min", "ratio", "availability",
               "acknowledged operations / operations attempted (0 to 1)"),
    MetricSpec("longest_outage_s", "max", "seconds", "availability",
               "longest gap between two successful operations"),
    MetricSpec("recovery_s", "max", "seconds", "availability",
               "from the last heal to the first stretch of normal success"),
    MetricSpec("latency_p50_ms", "max", "ms", "availability", "median latency of acknowledged operations"),
    MetricSpec("latency_p95_ms", "max", "ms", "availability", "95th percentile latency of acknowledged operations"),
    MetricSpec("latency_p99_ms", "max", "ms", "availability", "99th percentile latency of acknowledged operations"),
    # from the probes
    MetricSpec("failover_s", "max", "seconds", "availability",
               "from losing the leader to a new leader taking writes (probes)"),
    MetricSpec("detection_s", "max", "seconds", "availability", "from the fault to the cluster noticing it (probes)"),
    # data loss, from history + final state
    MetricSpec("lost", "max", "count", "data_safety", "acknowledged writes missing from the final state"),
    MetricSpec("unexpected", "max", "count", "data_safety",
               "writes in the final state that were never attempted, or whose every attempt failed definitely"),
    MetricSpec("duplicated", "max", "count", "data_safety",
               "write identities (a purchase's idempotency key) held by more than one row of the final read"),
    MetricSpec("oversold", "max", "count", "data_safety", "seats sold more than once"),
    MetricSpec("sold_over_capacity", "max", "count", "data_safety", "tickets sold beyond an event's capacity"),
    MetricSpec("credential_changes_lost", "max", "count", "data_safety",
               "acknowledged password rotations not in effect at the end"),
    MetricSpec("revoked_sessions_working", "max", "count", "data_safety",
               "sessions still accepted after the password rotation that revoked them"),
    MetricSpec("unique_violations", "max", "count", "data_safety",
               "values of a field an audit declares unique (audit.models: unique) held by more than one row"),
    MetricSpec("counter_mismatch", "max", "count", "data_safety",
               "counters (audit.models: counter) whose final value is outside what the acknowledged and "
               "indeterminate writes allow"),
    # cost
    MetricSpec("error_budget_burn", "max", "burn", "availability",
               "share of the SLO period's error budget the drill spent (1.0 = all of it)"),
    # disaster recovery, from events (disasters, restores) + history + final state
    MetricSpec("rto_s", "max", "seconds", "availability",
               "recovery time: from the first disaster (destroy_cluster, operator_error) to the first acknowledged "
               "purchase invoked after the restore removed the old cluster; a failed restore, or no purchase "
               "acknowledged again before load stop, fails it", whole_run=True),
    MetricSpec("rpo_s", "max", "seconds", "data_safety",
               "data loss in wall-clock time: from the earliest lost acknowledged write to the last write "
               "acknowledged before the restore removed the old cluster", whole_run=True),
    MetricSpec("rpo_ops", "max", "count", "data_safety",
               "acknowledged operations lost by the restore (invoked before it removed the old cluster, missing "
               "from the final state)", whole_run=True, ops=("purchase", "rotate_password", "all")),
    MetricSpec("lost_after_recovery", "max", "count", "data_safety",
               "acknowledged purchases and password rotations the restored cluster lost: invoked after the restore "
               "removed the old cluster and missing from the final state (normally 0)", whole_run=True),
    MetricSpec("resold_seats", "max", "count", "data_safety",
               "seats sold twice across a restore: a purchase acknowledged before it was lost, and the seat then "
               "sold (and acknowledged) to another purchase", whole_run=True),
    # the harness, from events
    MetricSpec("max_inject_delay_ms", "max", "ms", "availability",
               "worst lateness of a fault injection's start against its schedule: the nemesis's own lag, not "
               "how long the injection then took", whole_run=True),
    # zones, from the history's X-Replica and the `zones` event (drills/checks/per_zone.py)
    MetricSpec("zone_served_gap_s", "max", "seconds", "availability",
               "the longest stretch in which one zone's API replicas served nothing, leaving out the time a fault "
               "targeted that zone (worst zone; unknown without zones)", whole_run=True, ops=("all",)),
    # alerting, from alerts.jsonl (what the drill's receiver was notified of) + the fault times in events.jsonl
    MetricSpec("time_to_fire_s", "max", "seconds", "alerting",
               "from a fault's injection to the expected alert's firing notification reaching the drill's receiver",
               whole_run=True, per_alert=True),
    MetricSpec("time_to_resolve_s", "max", "seconds", "alerting",
               "from a fault's heal to the expected alert's resolved notification (0 when it resolved before the "
               "heal)", whole_run=True, per_alert=True),
    MetricSpec("missed_alerts", "max", "count", "alerting",
               "expected alerts that did not fire within their fire_within of the fault's injection",
               whole_run=True, per_alert=True),
    MetricSpec("false_alarms", "max", "count", "alerting",
               "alerts that fired with no fault to explain them: outside every fault's injection to heal + grace",
               whole_run=True, per_alert=True),
    MetricSpec("alert_flaps", "max", "count", "alerting",
               "extra firings of an expected alert for one fault: it fired, resolved and fired again",
               whole_run=True, per_alert=True),
)

METRICS: dict[str, MetricSpec] = {m.name: m for m in _ROWS}
if len(METRICS) != len(_ROWS):
    raise ValueError("a budget metric is declared twice")

# Judged on what the system kept, not on how fast it answered: a saturated load generator cannot excuse them.
DATA_SAFETY_METRICS = tuple(name for name, m in METRICS.items() if m.kind == "data_safety")
# Judged from alerts.jsonl, one expected alert at a time (a budget's `alert`) or over all of them.
ALERT_METRICS = tuple(name for name, m in METRICS.items() if m.per_alert)

ABORT_METRICS = ("error_ratio", "p99_ms", "probe_failing")
# Probe conditions an abort rule may name (`metric: probe_failing`).
ABORT_PROBES = ("no_leader", "api_all_down")


def wrong_bound_reason(metric: str, used: str) -> str:
    """Why `used` (min/max) is the wrong key for `metric`, in words."""
    spec = METRICS[metric]
    if spec.bound == "min":
        return (f"{metric} is better when higher, so a budget sets a floor with `min` (e.g. min: 0.95); "
                f"a `{used}` would fail the drill for being too healthy")
    return (f"{metric} is better when lower, so a budget sets a ceiling with `max` (e.g. max: "
            f"{0 if spec.unit == 'count' else 30}); a `{used}` would fail the drill for being too healthy")
