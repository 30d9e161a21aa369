"""result.json, declared once: the checks fill it (drills/checks/result.py), the report reads it back
(`read_result`), and drills/checks/result.schema.json is generated from it (`python -m drills.checks.regenerate`).

Time, one convention:

* A **moment** is an *offset*: seconds since the load started (`availability.window.load_started`), typed
  `Offset` below — every `*_s` that says when something happened (`injected_s`, `gone_s`, `t_s`, ...), the
  per-second rows' `t`, and the outage windows' `start` / `end`.
* A **length of time** is typed `Seconds` (`duration_s`, `recovery_s`, `failover_s`, ...) or `Millis`.
* A wall-clock stamp is typed `Epoch` (UNIX seconds, UTC) and only where a reader needs the clock itself: the
  run's `started` / `finished`, the load window's two ends, and, in `disaster_recovery`, the raw stamps of the
  disaster, the restores, the cut-off and the restore point — each of those stands next to its offset twin
  (`t` / `t_s`, `cutoff` / `cutoff_s`, `started` / `started_s`, ...) — and the backup sets' `start` / `stop`.

So a reader never guesses whether a number is an epoch or an offset: the type of its field says it.

Unknown is null, never zero: a metric with nothing to judge is null. The JSON shape is the one result.json has
always had (TypedDicts rather than dataclasses: the document *is* the model, so the runner, the checks' tests
and anything reading result.json with `json.load` see the same dicts, and nothing is converted twice).

Format 2 added `description`, `rerun_command`, `cluster`, `generator.series`, `audit.anomalies`, the faults'
`late_ms` / `duration_s`, the recovery timeline's `since_disaster_s` and the backup sets' `duration_s`. A
format-1 result is completed with them from the run directory (drills/checks/stored.py), never re-judged.
The faults' `attempted_s` / `inject_failed` came later in format 2 and are optional: a row without them is
read as it was written (its `injected_s` is then the inject line's moment, even for a failed inject).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict, get_args

from drills.checks.availability import PHASE_NAMES
from drills.checks.cluster import STATES
from drills.checks.typed_json import Meta, conform
from drills.checks.verdict import VERDICTS
from drills.scenario.metrics import METRICS

FORMAT = 2
READABLE_FORMATS = (1, 2)

Verdict = Literal["pass", "fail", "aborted", "error", "inconclusive"]
assert VERDICTS == get_args(Verdict), "drills/checks/verdict.py and the result model name the same verdicts"
Expect = Literal["pass", "fail"]
NodeState = Literal["leader", "leader_unprotected", "sync_standby", "replica", "unknown", "up", "lb_down", "down",
                    "frozen"]
assert STATES == get_args(NodeState), "drills/checks/cluster.py and the result model name the same node states"

Offset = Annotated[float, Meta(description="a moment: seconds since the load started", name="offset")]
Seconds = Annotated[float, Meta(description="a length of time in seconds", name="seconds")]
Millis = Annotated[float, Meta(description="a length of time in milliseconds", minimum=0, name="millis")]
Epoch = Annotated[float, Meta(description="a wall-clock stamp: UNIX epoch seconds", name="epoch")]
Count = Annotated[int, Meta(minimum=0, name="count")]
Ratio = Annotated[float, Meta(minimum=0, maximum=1, name="ratio")]
MetricName = Annotated[str, Meta(
    description="a budget metric; what each measures: docs/scenario-format.md#budgets", enum=tuple(METRICS),
    name="budgetMetric", comment="GENERATED from drills/scenario/metrics.py by "
                                 "`python -m drills.checks.regenerate --write`: do not edit by hand")]
PhaseName = Annotated[str, Meta(enum=PHASE_NAMES)]
Interval = Annotated[list[Offset | None], Meta(min_items=2, max_items=2, name="interval")]


# budgets ---------------------------------------------------------------------------------------------------------

class Limit(TypedDict):
    min: float | None
    max: float | None


class BudgetRow(TypedDict):
    """One scenario budget, judged: `passed` null means unknown (nothing to judge)."""

    name: str
    metric: MetricName
    op: str
    phase: PhaseName
    limit: Limit
    observed: float | None
    passed: bool | None
    detail: str
    censored: Annotated[bool, Meta(description="observed is a lower bound (e.g. not recovered by load stop)")]
    never: NotRequired[Annotated[bool, Meta(
        description="it never happened before load stop (rto_s: never recovered): observed is a lower bound and "
                    "the budget fails whatever its max")]]
    alert: NotRequired[Annotated[str | None, Meta(
        description="alerting metrics: the one alert judged; null: every expected alert")]]


# the data-loss audit ----------------------------------------------------------------------------------------------

# The audit's data-loss counts: anomalies() adds up the known ones; the report shows any above 0 in red.
DATA_LOSS_COUNTS = ("lost", "unexpected", "duplicated", "oversold", "sold_over_capacity", "inventory_mismatch",
                    "credential_changes_lost", "revoked_sessions_working", "unique_violations", "counter_mismatch")


class AuditModelRow(TypedDict):
    """One model of a declared audit (drills/checks/audit.py, declared_audit()): its counts, or why unknown."""

    model: Literal["set", "unique", "counter"]
    name: str
    collection: str
    rows: Count | None
    error: str | None
    writes: NotRequired[list[str]]
    fields: NotRequired[list[str]]
    acknowledged: NotRequired[Count]
    lost: NotRequired[Count | None]
    unexpected: NotRequired[Count | None]
    duplicated: NotRequired[Count | None]
    indeterminate_applied: NotRequired[Count | None]
    indeterminate_not_applied: NotRequired[Count | None]
    null_ids: NotRequired[Count]
    unique_violations: NotRequired[Count | None]
    counters_checked: NotRequired[Count]
    counter_mismatch: NotRequired[Count | None]
    counters_unbounded: NotRequired[Count]


class Audit(TypedDict):
    """The history against the final state (drills/checks/audit.py); a null count is unknown. The reference
    stack's audit has every count but `models`, `unique_violations` and `counter_mismatch`; a declared audit
    (a scenario's `audit:`) has the write counts, those of its models' kinds and `models`."""

    final_state: Literal["complete", "incomplete", "missing"]
    attempted: Count
    acknowledged: Count
    failed: Count
    indeterminate: Count
    lost: NotRequired[Count | None]
    unexpected: NotRequired[Count | None]
    duplicated: NotRequired[Count | None]
    oversold: NotRequired[Count | None]
    sold_over_capacity: NotRequired[Count | None]
    indeterminate_applied: NotRequired[Count | None]
    indeterminate_not_applied: NotRequired[Count | None]
    inventory_mismatch: NotRequired[Count | None]
    unique_violations: NotRequired[Count | None]
    counter_mismatch: NotRequired[Count | None]
    unkeyed: NotRequired[Count]
    rotations_acknowledged: NotRequired[Count]
    credential_changes_lost: NotRequired[Count | None]
    credentials_checked: NotRequired[Count]
    revoked_sessions_working: NotRequired[Count | None]
    sessions_checked: NotRequired[Count]
    models: NotRequired[list[AuditModelRow]]
    samples: Annotated[dict[str, Annotated[list[dict[str, Any]], Meta(max_items=20)]], Meta(
        description="anomaly -> up to 20 examples (keys, seats, users; times as t_s offsets)")]
    errors: list[str]
    anomalies: Annotated[Count | None, Meta(
        description=f"the known data-loss counts added up ({', '.join(DATA_LOSS_COUNTS)}); null when every one "
                    "is unknown")]


# availability -----------------------------------------------------------------------------------------------------

class Latency(TypedDict):
    p50: Millis | None
    p95: Millis | None
    p99: Millis | None


class Window(TypedDict):
    """The load window: every offset in the result counts from `load_started`."""

    load_started: Epoch
    load_stopped: Epoch
    duration_s: Seconds


class LongestOutage(TypedDict):
    start: Offset
    end: Offset
    open: bool


class RecoveryRow(TypedDict):
    fault_id: str
    iteration: int
    op: str
    injected_s: Offset | None
    first_success_s: Seconds | None
    recovery_s: Seconds | None
    recovered: bool
    censored: bool
    from_heal_s: Seconds | None


class Failover(TypedDict):
    old_leader: str | None
    new_leader: str | None
    gone_s: Annotated[Offset | None, Meta(
        description="the old leader stopped serving: the fault aimed at it, or when the probes saw it gone")]
    seen_gone_s: Annotated[Offset | None, Meta(description="when the probes saw the old leader gone")]
    fault_id: Annotated[str | None, Meta(description="the fault that struck the old leader, if any")]
    new_leader_s: Offset | None
    first_purchase_s: Offset | None
    election_s: Seconds | None
    to_first_purchase_s: Seconds | None
    failover_s: Seconds | None
    censored: bool


class Detection(TypedDict):
    fault_id: str
    iteration: int
    targets: list[str]
    detection_s: Seconds | None
    how: str | None
    censored: bool


class ErrorBudget(TypedDict):
    slo_target: float
    period_days: float
    bad_ops: Count
    total_ops: Count
    bad_seconds: Seconds | None
    allowed_seconds: Seconds | None
    burn: Annotated[float | None, Meta(minimum=0)]
    burn_rate: Annotated[float | None, Meta(minimum=0)]


class PhaseSummary(TypedDict):
    ok: Count
    fail: Count
    info: Count
    success_ratio: Ratio | None
    longest_outage_s: Seconds | None
    latency_ms: NotRequired[Latency]


class OpSummary(PhaseSummary):
    per_phase: dict[str, PhaseSummary]


class SeriesRow(TypedDict):
    """One second of the load, by completion: operations by outcome, latency of the acknowledged ones."""

    t: Annotated[Offset, Meta(description="start of the second, offset from load start")]
    ok: Count
    fail: Count
    info: Count
    p50_ms: Millis | None
    p99_ms: Millis | None
    success_ratio: Ratio | None


class OutageRow(TypedDict):
    """A client-observed outage of one op of at least 1 s (drills/checks/availability.py)."""

    op: str
    start: Offset
    end: Offset
    duration_s: Annotated[Seconds, Meta(minimum=0)]
    open: Annotated[bool, Meta(description="no success before load stop")]


class Availability(TypedDict):
    """What buyers saw: headline numbers for `op`, then per phase, per op, per second."""

    op: Annotated[str, Meta(description="the op the headline numbers are about")]
    window: Window
    phases: Annotated[dict[str, list[Interval]], Meta(
        description="each phase's intervals as offsets, open ends clamped to the load window")]
    ok: Count
    fail: Count
    info: Count
    success_ratio: Ratio | None
    longest_outage_s: Seconds | None
    longest_outage: LongestOutage | None
    recovery_s: Seconds | None
    recovery: list[RecoveryRow]
    failover_s: Seconds | None
    failovers: list[Failover]
    detection_s: Seconds | None
    detections: list[Detection]
    latency_ms: Latency
    error_budget: ErrorBudget
    per_phase: dict[str, PhaseSummary]
    per_op: dict[str, OpSummary]
    series: list[SeriesRow]
    series_by_op: dict[str, list[SeriesRow]]
    outages: list[OutageRow]


# faults -----------------------------------------------------------------------------------------------------------

class FaultRow(TypedDict):
    """One injection (one iteration of a fault) and its heal, as events.jsonl recorded them."""

    id: str
    iteration: Count
    type: str | None
    target: dict[str, Any] | list[Any] | None
    link: str | list[str] | None   # a link pattern (api*_db) records every link it matched
    scheduled_s: Offset | None
    attempted_s: NotRequired[Annotated[Offset | None, Meta(
        description="when the inject was tried (its inject line): injected_s, or the moment a failed inject "
                    "gave up")]]
    injected_s: Annotated[Offset | None, Meta(description="when it took effect; null when its inject failed")]
    healed_s: Offset | None
    inject_failed: NotRequired[Annotated[bool, Meta(
        description="the inject failed and nothing took effect: the fault did not happen (`error` says why), "
                    "which makes the verdict inconclusive")]]
    ok: bool | None
    error: str | None
    heal_ok: bool | None
    heal_error: str | None
    detection_s: Seconds | None
    recovery_s: Seconds | None
    late_ms: Annotated[Millis | None, Meta(description="injected_s - scheduled_s: how late the fault took effect")]
    duration_s: Annotated[Seconds | None, Meta(description="healed_s - injected_s; null while never healed")]


# disaster recovery ------------------------------------------------------------------------------------------------

class Disaster(TypedDict):
    fault_id: str
    iteration: int
    type: str
    t: Epoch
    t_s: Offset | None
    statement: str | None
    node: str | None
    db_time_before: Epoch | None
    removed: list[Any] | None


class BackupLoss(TypedDict):
    fault_id: str
    iteration: int
    t_s: Offset | None
    ok: bool | None
    error: str | None
    which: Any
    lost: list[Any] | None


class Restore(TypedDict):
    fault_id: str
    iteration: Count
    source: Annotated[Literal["action", "heal"], Meta(
        description="a restore_cluster action, or a disaster's heal at the end of steady")]
    ok: bool
    error: str | None
    approximate: Annotated[bool, Meta(
        description="timed by its heal line only (no data.restore): its cut-off is the heal line's time")]
    target: Annotated[str | None, Meta(
        description="latest | time (point in time) | xid (just before that transaction)")]
    target_time: Epoch | None
    target_xid: Any
    candidates: list[Any]
    set_used: str | None
    sets_skipped: list[dict[str, Any]]
    leader: str | None
    started: Epoch | None
    finished: Epoch | None
    duration_s: Seconds | None
    cluster_removed_at: Epoch | None
    leader_at: Epoch | None
    healthy_at: Epoch | None
    recovered_to: Epoch | None
    sessions_not_before: Annotated[Epoch | None, Meta(
        description="session epoch stamped on the restored leader: every session created before is void")]
    sessions_voided: Annotated[int | None, Meta(
        description="live sessions the epoch ended: the users who must log in again (null: not stamped)")]
    target_time_s: Offset | None
    started_s: Offset | None
    finished_s: Offset | None
    cluster_removed_s: Offset | None
    leader_s: Offset | None
    healthy_s: Offset | None
    recovered_to_s: Offset | None
    sessions_not_before_s: Offset | None


class TimelineStep(TypedDict):
    what: str
    t: Epoch
    t_s: Offset | None
    step: str
    fault_id: NotRequired[str]
    since_disaster_s: Annotated[Seconds | None, Meta(description="t_s - the first disaster's t_s")]


class Rto(TypedDict):
    value: Seconds | None
    recovered: bool
    never: bool
    from_s: Offset | None
    to_s: Offset | None
    detail: str


class Rpo(TypedDict):
    value: Seconds | None
    earliest_lost_s: Offset | None
    last_ack_s: Offset | None
    detail: str


class ByOp(TypedDict):
    purchase: Count | None
    rotate_password: Count | None
    all: Count | None


class LostOp(TypedDict):
    op: Literal["purchase", "rotate_password"]
    key: str | None
    user: str | None
    invoke_s: Offset | None
    ack_s: Offset | None
    event_id: NotRequired[Any]
    seats: NotRequired[list[Any] | None]
    order_id: NotRequired[Any]
    acknowledged_version: NotRequired[int | None]
    final_version: NotRequired[int | None]
    reason: NotRequired[str | None]


class LostOps(TypedDict):
    by_restore: Count
    after_recovery: Count
    by_restore_samples: Annotated[list[LostOp], Meta(max_items=50)]
    after_recovery_samples: Annotated[list[LostOp], Meta(max_items=50)]


class BackupSet(TypedDict):
    """One backup set of the catalogue (passed through from backups.json: other keys may follow)."""

    label: str
    type: str
    start: Epoch
    stop: Epoch
    size: NotRequired[int | None]
    repo_size: NotRequired[int | None]
    wal_start: NotRequired[str | None]
    wal_stop: NotRequired[str | None]
    duration_s: Annotated[Seconds | None, Meta(description="stop - start")]


class Catalogue(TypedDict):
    source: str
    stanza: str | None
    error: str | None
    catalogue: list[BackupSet]


class DisasterRecovery(TypedDict):
    """Present when the run had a disaster (destroy_cluster, operator_error), a backup loss or a restore_cluster
    action. See drills/checks/recovery.py for the exact definitions."""

    disasters: list[Disaster]
    backup_losses: list[BackupLoss]
    restores: list[Restore]
    cutoff: Annotated[Epoch | None, Meta(
        description="the old cluster was gone: the latest restore's cluster_removed_at or disaster")]
    cutoff_s: Offset | None
    cutoff_from: str | None
    timeline: list[TimelineStep]
    rto_s: Seconds | None
    rto: Rto
    rpo_s: Seconds | None
    rpo: Rpo
    rpo_ops: Annotated[ByOp, Meta(description="acknowledged operations lost by the restore, by op")]
    lost_after_recovery: Annotated[ByOp, Meta(
        description="acknowledged operations invoked after the cut-off and lost")]
    recovered_to: Epoch | None
    recovered_to_s: Offset | None
    restore_point_behind_disaster_s: Seconds | None
    lost: LostOps
    resold_seats: Count | None
    resold_samples: Annotated[list[dict[str, Any]], Meta(max_items=50)]
    backups: Catalogue | None
    final_state: Literal["complete", "incomplete", "missing"] | None


# alerting ---------------------------------------------------------------------------------------------------------

class ExpectedAlertRow(TypedDict):
    """One expected alert judged for one injection of its fault (drills/checks/alerting.py)."""

    alert: str
    labels: dict[str, str]
    fault_id: str
    iteration: Count
    injected_s: Offset | None
    healed_s: Offset | None
    fire_within_s: Seconds
    resolve_within_s: Seconds
    fired_s: Annotated[Offset | None, Meta(description="the first firing notification received; null: none")]
    time_to_fire_s: Seconds | None
    resolved_s: Annotated[Offset | None, Meta(description="the resolved notification received; null: none")]
    time_to_resolve_s: Annotated[Seconds | None, Meta(description="from the heal; 0 when resolved before it")]
    missed: Annotated[bool | None, Meta(description="not fired within fire_within; null: unknown (see unknown)")]
    late_resolve: Annotated[bool | None, Meta(description="resolved later than resolve_within after the heal")]
    firings: Count
    flaps: Count
    unknown: Annotated[str | None, Meta(description="why part of it could not be judged")]


class AlertOccurrence(TypedDict):
    """One firing of one alert series: from its first firing notification to its resolved one."""

    alert: str
    labels: dict[str, str]
    started_s: Annotated[Offset | None, Meta(description="Alertmanager's startsAt, else the first notification")]
    received_s: Offset | None
    resolved_s: Offset | None
    notifications: Count


class AlertNotification(TypedDict):
    t_s: Annotated[Offset | None, Meta(description="when the drill's receiver got it")]
    status: Literal["firing", "resolved"]
    alert: str
    labels: dict[str, str]


class AlertInterval(TypedDict):
    """A pending or firing interval of one alert series as Prometheus reported it (the report's alert lane)."""

    alert: str
    labels: dict[str, str]
    state: Literal["pending", "firing"]
    start_s: Offset | None
    end_s: Offset | None
    open: Annotated[bool, Meta(description="still in this state when the record ended")]


class AlertProblem(TypedDict):
    t_s: Offset | None
    source: str
    error: str


class Alerting(TypedDict):
    """Present when the run recorded alerts.jsonl or its scenario has an alerts section (drills/checks/alerting.py):
    did the expected alerts fire and resolve in time, and what fired with no fault to explain it."""

    recorded: Annotated[bool, Meta(description="alerts.jsonl was there; false: every alerting budget is unknown")]
    notified: Annotated[bool, Meta(description="a receiver was watched: false, notification budgets are unknown")]
    grace_s: Seconds
    record_end_s: Offset | None
    expected: list[ExpectedAlertRow]
    not_due: Annotated[list[str], Meta(description="expected alerts whose fault never took effect")]
    false_alarms: Annotated[list[AlertOccurrence], Meta(max_items=500)]
    firing_at_start: Annotated[list[AlertOccurrence], Meta(
        max_items=500, description="already firing before the load started (allow_firing_at_start)")]
    notifications: Annotated[list[AlertNotification], Meta(max_items=500)]
    intervals: Annotated[list[AlertInterval], Meta(max_items=500)]
    problems: Annotated[list[AlertProblem], Meta(max_items=50)]
    problem_count: Count


# the load generator and the cluster -------------------------------------------------------------------------------

class GeneratorSecond(TypedDict):
    """One second of stats.jsonl summed over the load processes (drills/checks/generator.py)."""

    t: Annotated[Offset, Meta(description="the stats' whole epoch second, as an offset from load start")]
    offered: float
    target: float | None
    cpu: Annotated[float | None, Meta(description="the busiest load process's CPU %")]
    users: float


class WorkerRow(TypedDict):
    """One remote load worker (`drill worker`), from the master's `worker` lines (drills/checks/worker_health.py)."""

    worker: str
    joined_s: Annotated[Offset | None, Meta(description="its first join")]
    offset_s: Annotated[float | None, Meta(
        description="its clock minus the master's, measured at its latest join; subtracted from its history's times")]
    rtt_s: Annotated[float | None, Meta(description="the round trip of that measurement")]
    missing: Annotated[list[Interval], Meta(
        description="from `missing` (or an early `quit`) to its rejoin or load stop")]
    ramp: Annotated[list[Interval], Meta(
        description="after a rejoin, until the load was back at its level before the gap")]
    end: Annotated[Literal["quit", "lost"] | None, Meta(description="how the master last saw it leave, if it did")]
    lines: Annotated[Count | None, Meta(description="lines of its history-<worker>.jsonl; null: no such file")]


class WorkerEvent(TypedDict):
    """One `worker` line of events.jsonl, as an offset."""

    t_s: Offset
    name: Literal["joined", "missing", "quit", "lost"]
    worker: str
    offset_s: float | None
    rtt_s: float | None
    detail: str | None


class Generator(TypedDict):
    """Was the load generator, not the system, the bottleneck? (drills/checks/generator.py)"""

    seconds: Count
    healthy_seconds: NotRequired[Count]
    target_rate_mean: NotRequired[float | None]
    offered_rate_mean: NotRequired[float | None]
    achieved_ratio: NotRequired[Annotated[float | None, Meta(minimum=0)]]
    cpu_max: NotRequired[float | None]
    cpu_hot_share: NotRequired[Ratio | None]
    users_max: NotRequired[float | None]
    saturated: Annotated[bool | None, Meta(description="null when stats.jsonl is missing")]
    reasons: list[str]
    series: list[GeneratorSecond]
    workers: NotRequired[list[WorkerRow]]
    worker_events: NotRequired[list[WorkerEvent]]
    inconclusive: NotRequired[Annotated[list[Interval], Meta(
        description="where a remote worker's load was missing: availability there is inconclusive, never an outage")]]


class NodeSpan(TypedDict):
    start_s: Offset
    end_s: Offset
    state: NodeState
    cut_off: Annotated[bool, Meta(description="a network fault cut the node off (probes.jsonl's cut_off)")]


class LeaderSpan(TypedDict):
    start_s: Offset
    end_s: Offset
    leader: Annotated[str | None, Meta(description="the Patroni leader; null: none")]


class Cluster(TypedDict):
    """What the probes saw, as spans (drills/checks/cluster.py): each node's state and who led."""

    nodes: dict[str, list[NodeSpan]]
    leader: list[LeaderSpan]


# zones and load balancers (drills/checks/zones.py) ----------------------------------------------------------------

class Gap(TypedDict):
    start: Offset
    end: Offset


class ZoneRow(TypedDict):
    """One zone: what its API replicas served, and its longest gap in serving while no fault targeted it."""

    zone: str
    services: list[str]
    replicas: Annotated[list[str], Meta(description="its API replicas (the history's X-Replica)")]
    served: Count
    per_second: Annotated[float | None, Meta(minimum=0, description="served / the load window's length")]
    share: Annotated[Ratio | None, Meta(description="of the operations served by a replica with a zone")]
    longest_gap_s: Annotated[Seconds | None, Meta(
        description="longest stretch with nothing served by its replicas, outside the faults targeting it; "
                    "null: the zone has no API replica")]
    longest_gap: Gap | None
    targeted: Annotated[list[Interval], Meta(description="when a fault targeted the zone (inject to heal)")]


class LbRow(TypedDict):
    """One load balancer: the operations answered through it (X-LB) and the outage seen through it."""

    lb: str
    zone: str | None
    ops: Count
    served: Count
    not_served: Count
    share: Ratio | None
    longest_outage_s: Annotated[Seconds | None, Meta(
        description="availability's longest outage over the operations through it; one still open at load stop ends "
                    "at its last answer (clients stopped coming once the VIP moved away)")]
    longest_outage: LongestOutage | None


class Unrouted(TypedDict):
    ops: Annotated[Count, Meta(description="operations with no X-LB header: no load balancer answered, or the load "
                                           "recorded the operation itself (a compound one)")]
    served: Count


class VipSpan(TypedDict):
    start_s: Offset
    end_s: Offset
    lb_active: Annotated[str | None, Meta(description="the LB that answered the probe's GET; null: none")]


class VipMove(TypedDict):
    from_lb: str
    to_lb: str
    left_s: Annotated[Offset, Meta(description="the old holder's last probe span ended")]
    t_s: Annotated[Offset, Meta(description="the new holder first answered a probe")]
    client_gap_s: Annotated[Seconds | None, Meta(
        description="last operation served through another LB to the first served through the new holder")]


class LeaderZoneSpan(TypedDict):
    start_s: Offset
    end_s: Offset
    zone: str | None


class Zones(TypedDict):
    """Present when the run recorded a placement over two zones or more (the `zones` event)."""

    placement: Annotated[dict[str, str], Meta(description="service -> zone letter")]
    zones: list[ZoneRow]
    lbs: list[LbRow]
    unrouted: Unrouted
    vip: Annotated[list[VipSpan], Meta(description="who held the virtual IP (probes' lb_active)")]
    vip_moves: list[VipMove]
    leader_zone: Annotated[list[LeaderZoneSpan], Meta(description="the Patroni leader's zone over time")]


class ChecksRun(TypedDict):
    operations: Count
    history_lines: Count
    json: str
    seconds: Annotated[float, Meta(minimum=0)]


# the result -------------------------------------------------------------------------------------------------------

class ResultHeadline(TypedDict):
    """What a list of runs shows of each (the runs index): every format has these."""

    format: Annotated[int, Meta(enum=(FORMAT,))]
    verdict: Verdict
    expected: Expect
    self_test_passed: bool
    verdict_reasons: list[str]
    scenario: str
    run_id: str | None
    started: Annotated[Epoch | None, Meta(description="the run's `started` event")]
    finished: Annotated[Epoch | None, Meta(description="the run's last `finished` event")]
    duration_s: Annotated[Seconds, Meta(minimum=0, description="the load window's length")]
    seed: int | None


class Result(ResultHeadline):
    description: str
    rerun_command: Annotated[str | None, Meta(description="meta.json's command that runs this drill again")]
    budgets: list[BudgetRow]
    audit: Audit
    availability: Availability
    faults: list[FaultRow]
    disaster_recovery: NotRequired[DisasterRecovery]
    alerting: NotRequired[Alerting]
    generator: Generator
    cluster: Cluster
    zones: NotRequired[Zones]
    versions: dict[str, Any]
    images: dict[str, Any]
    missing_files: list[str]
    notes: list[str]
    checks: ChecksRun


# Objects passed through from another writer (backups.json, a restore's data): keys beyond the declared ones stay.
OPEN_TYPES: frozenset[type] = frozenset({BackupSet})

SCHEMA_HEADER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://github.com/drills/drills/drills/checks/result.schema.json",
    "$comment": "GENERATED from drills/checks/result_model.py by `python -m drills.checks.regenerate --write`: "
                "do not edit by hand",
    "title": "drills result.json",
    "description": "The verdict of one drill run, written by drills.checks.write_result() and declared in "
                   "drills/checks/result_model.py. A moment is an offset (seconds since the load started, "
                   "$defs/offset); a wall-clock stamp is typed $defs/epoch. A null metric means unknown "
                   "(nothing to judge), never zero.",
}


def read_result(doc: object) -> tuple[Result | None, list[str]]:
    """A result.json document read back through the model: (the result, or None when the document is not one;
    what was repaired or left out, in words). Format-1 documents must be completed first (drills.checks.stored)."""
    result, notes = conform(Result, doc, OPEN_TYPES)
    return result, notes


def read_headline(doc: object) -> ResultHeadline | None:
    """The headline of a result.json document of any format, or None when it has none."""
    headline, _ = conform(ResultHeadline, doc)
    return headline




def anomalies(audit: dict[str, Any]) -> int | None:
    """The audit's known data-loss counts added up; None when every one is unknown."""
    known = [v for v in (audit.get(k) for k in DATA_LOSS_COUNTS) if isinstance(v, int) and not isinstance(v, bool)]
    return sum(known) if known else None
