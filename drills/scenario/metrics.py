"""Budget metrics: which direction is "good" for each, and in what unit, so a budget can only be written the
way that makes sense (a floor on success, a ceiling on outage or loss)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from drills.scenario.model import BUDGET_METRICS

Unit = Literal["ratio", "seconds", "ms", "count", "burn"]


@dataclass(frozen=True)
class MetricSpec:
    bound: Literal["min", "max"]   # the only key a budget on this metric may use
    unit: Unit
    doc: str


METRICS: dict[str, MetricSpec] = {
    "success_ratio": MetricSpec("min", "ratio", "acknowledged operations / operations attempted (0 to 1)"),
    "longest_outage_s": MetricSpec("max", "seconds", "longest gap between two successful operations"),
    "recovery_s": MetricSpec("max", "seconds", "from the last heal to the first stretch of normal success"),
    "latency_p50_ms": MetricSpec("max", "ms", "median latency of acknowledged operations"),
    "latency_p95_ms": MetricSpec("max", "ms", "95th percentile latency of acknowledged operations"),
    "latency_p99_ms": MetricSpec("max", "ms", "99th percentile latency of acknowledged operations"),
    "failover_s": MetricSpec("max", "seconds", "from losing the leader to a new leader taking writes (probes)"),
    "detection_s": MetricSpec("max", "seconds", "from the fault to the cluster noticing it (probes)"),
    "lost": MetricSpec("max", "count", "acknowledged writes missing from the final state"),
    "unexpected": MetricSpec("max", "count", "writes reported as failed that are in the final state"),
    "duplicated": MetricSpec("max", "count", "one idempotency key that bought more than once"),
    "oversold": MetricSpec("max", "count", "seats sold more than once"),
    "sold_over_capacity": MetricSpec("max", "count", "tickets sold beyond an event's capacity"),
    "credential_changes_lost": MetricSpec("max", "count", "acknowledged password rotations not in effect at the end"),
    "revoked_sessions_working": MetricSpec("max", "count", "sessions still accepted after the password rotation "
                                           "that revoked them"),
    "error_budget_burn": MetricSpec("max", "burn", "share of the SLO's error budget for the period spent by the "
                                    "drill (1.0 = all of it)"),
    "rto_s": MetricSpec("max", "seconds", "recovery time: from the first disaster (destroy_cluster, operator_error) "
                        "to the first acknowledged purchase invoked after the restore removed the old cluster; "
                        "a failed restore or no purchase acknowledged again before load stop fails it"),
    "rpo_s": MetricSpec("max", "seconds", "data loss in wall-clock seconds: from the earliest lost acknowledged "
                        "write to the last write acknowledged before the restore removed the old cluster"),
    "rpo_ops": MetricSpec("max", "count", "acknowledged operations lost by the restore (invoked before it removed "
                          "the old cluster, missing from the final state); op: purchase, rotate_password or all"),
    "lost_after_recovery": MetricSpec("max", "count", "acknowledged purchases and password rotations invoked after "
                                      "the restore removed the old cluster and missing from the final state"),
    "resold_seats": MetricSpec("max", "count", "seats sold twice across a restore: a purchase acknowledged before "
                               "it was lost, and the seat was then sold (and acknowledged) to another purchase"),
}

assert tuple(METRICS) == BUDGET_METRICS, "metric table and model.BUDGET_METRICS disagree"

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
