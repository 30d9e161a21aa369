"""The typed scenario: what a validated YAML drill becomes. Every stage reads only this.

Durations are seconds (float). Offsets in the fault schedule are seconds from the start of load.
The YAML spelling of each field is the field name; durations may be written `30s`, `2m`, `500ms` or a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from drills.scenario.audit_section import AuditSection
from drills.scenario.metrics import METRICS

Selection = Literal["one", "all", "minority", "majority", "random"]
ProfileType = Literal["constant_users", "arrival_rate", "stages"]
Expect = Literal["pass", "fail"]

# Roles a target can name; resolved at the moment of injection.
TARGET_ROLES = ("leader", "sync_standby", "replica", "postgres", "api", "lb", "etcd", "etcd_leader", "proxy",
                "lb_active")

BUDGET_METRICS = tuple(METRICS)  # declared in drills/scenario/metrics.py, one row each
PHASES = ("all", "warmup", "steady", "recovery", "before_fault", "during_fault", "after_heal")
OPERATIONS = ("all", "purchase", "login", "register", "browse", "rotate_password", "verify_password")


@dataclass(frozen=True)
class Source:
    """Where a value came from in the YAML, so later errors can point at file:line:column."""

    file: str
    line: int
    column: int


@dataclass
class ReferenceStack:
    async_replication: bool = False
    api_replicas: int = 3
    # zones (drills/platform/zones.py): nodes spread over zone letters a, b, c; with 2 or more, two load balancers
    # share a VIP. Left out: 3, or fewer when the API replicas cannot fill 3 (validate_stack sets it).
    zones: int = 3
    hot_event_seats: int = 20000
    cold_events: int = 3
    cold_event_seats: int = 500
    maximum_lag_on_failover: int = 1048576
    keep: bool = False  # leave the stack running after the drill
    # pgBackRest: WAL archived continuously and a full backup when the stack starts (backups: false = neither)
    backups: bool = True
    backup_interval: float = 0.0        # seconds between scheduled backups on the leader; 0 = none scheduled
    backup_type: Literal["full", "diff", "incr"] = "incr"
    backup_retention_full: int = 2
    archive_timeout: float = 15.0       # longest a written WAL segment waits before it is archived
    # WAL streamed synchronously into the repository: no write is acknowledged before it is there (RPO 0)
    zero_rpo_backups: bool = False
    monitoring: bool = True             # Prometheus + Alertmanager + the drill's alert receiver in the stack
    # extra Prometheus rule files from the scenario's folder, loaded beside harness/monitoring/rules:
    # path as written -> its text (read when the scenario is validated, so the run uses what was checked)
    alert_rules: dict[str, str] = field(default_factory=dict)


@dataclass
class RoleProbe:
    """How to tell which containers of an attached system hold a role that moves (a database leader): asked
    again at each fault injection. Either `command` + `match` run in each of `services`, or `http`."""

    services: list[str] = field(default_factory=list)  # compose services or container names probed by `command`
    command: list[str] = field(default_factory=list)   # run inside each container (docker exec)
    match: str = ""                                     # regex searched in its stdout: the container holds the role
    http: dict[str, str] = field(default_factory=dict)  # service -> loopback URL; a 200 answer holds the role


@dataclass
class Readiness:
    """When an attached system serves again: every check given must hold for `hold` seconds in a row (YAML
    `for`). Neither `http` nor `role` given: GET api_url + /readyz must answer 200."""

    http: str | None = None             # a loopback URL that answers 200 when ready
    role: str | None = None             # a role (role_probes or Patroni's) that has a holder
    hold: float = 2.0                   # YAML `for`


@dataclass
class AttachedStack:
    """The user's own running containers."""

    api_url: str                       # must be http://127.0.0.1:PORT or http://localhost:PORT
    containers: dict[str, str] = field(default_factory=dict)  # service name -> container name
    label_selector: str | None = None  # e.g. "com.example.stack=ticketing"; adds every matching container
    roles: dict[str, str] = field(default_factory=dict)       # service name -> static role
    patroni_urls: dict[str, str] = field(default_factory=dict)  # service -> http://127.0.0.1:PORT (optional)
    toxiproxy_url: str | None = None
    compose_project: str | None = None  # every container labelled com.docker.compose.project=NAME
    role_probes: dict[str, RoleProbe] = field(default_factory=dict)  # dynamic role name -> how to find holders
    ready: Readiness = field(default_factory=Readiness)


# The system a drill runs against: the reference stack it starts, or the user's own it attaches to — one of
# the two, never both (the YAML keys are `stack.reference` and `stack.attach`).
StackSection = ReferenceStack | AttachedStack


@dataclass
class Phases:
    warmup: float = 10.0
    steady: float = 60.0
    recovery: float = 20.0

    @property
    def total(self) -> float:
        return self.warmup + self.steady + self.recovery


@dataclass
class Stage:
    duration: float
    users: int | None = None     # for user stages
    rate: float | None = None    # for arrival-rate stages (operations per second)
    spawn_rate: float | None = None


@dataclass
class LoadProfile:
    type: ProfileType = "constant_users"
    users: int = 20
    spawn_rate: float = 10.0
    rate: float | None = None           # arrival_rate: operations started per second, kept up during stalls
    max_users: int = 200                # arrival_rate: cap on concurrent users offering the rate
    stages: list[Stage] = field(default_factory=list)


@dataclass
class LoadSection:
    locustfile: str = "builtin"         # "builtin" (drills/load/locust_side/locustfile.py) or a scenario-relative path
    user_classes: list[str] = field(default_factory=list)  # empty = the locustfile's defaults
    operations: list[str] = field(default_factory=list)    # a custom locustfile's own `op` names (for budgets)
    profile: LoadProfile = field(default_factory=LoadProfile)
    mix: dict[str, float] = field(default_factory=lambda: {"purchase": 70, "browse": 20, "rotate_password": 5,
                                                          "login": 5})
    hot_share: float = 0.3              # share of purchases aimed at the hot set of seats (contention)
    hot_seats: int = 2000               # size of the hot set (low seat numbers of the hot event)
    request_timeout: float = 5.0
    max_retries: int = 3                # purchase retries (same idempotency key); password checks re-asked
    workers: int = 0                    # 0 = one local Locust process; N = a master and N workers


@dataclass
class Target:
    service: str | None = None          # a service name (pg1, api2, haproxy, or the user's container name)
    role: str | None = None             # one of TARGET_ROLES, resolved at injection time
    label: str | None = None            # key=value on the user's own containers
    zone: str | None = None             # a zone letter (a, b, ...); "leader" / "replica": the zone of the Patroni
    #                                     leader / of the first replica outside the leader's zone, at injection
    select: Selection = "one"
    count: int | None = None            # select N (overrides select)
    wait: float = 0.0                   # a role: wait up to this long for a holder (e.g. a leader coming back)


@dataclass
class After:
    fault: str                          # id of another fault
    event: Literal["injected", "healed"] = "healed"
    delay: float = 0.0


@dataclass
class Fault:
    id: str
    type: str                           # one of drills.scenario.fault_types.FAULTS
    target: Target | None = None        # process/network faults
    link: str | None = None             # Toxiproxy faults: proxy name, e.g. api1_db, lb_api2, or "api*_db"
    at: float | None = None             # offset from the start of load
    after: After | None = None          # or: relative to another fault's inject/heal
    duration: float | None = None       # None = until the end of the steady phase
    repeat_every: float | None = None   # flip-flop: inject again every N seconds (fresh random target)
    repeat_count: int | None = None
    params: dict = field(default_factory=dict)  # type-specific, e.g. signal, latency_ms, jitter_ms, percent
    source: Source | None = None


@dataclass
class Budget:
    metric: str                         # one of BUDGET_METRICS
    min: float | None = None
    max: float | None = None
    op: str = "purchase"                # one of OPERATIONS
    phase: str = "all"                  # one of PHASES
    name: str | None = None             # display name; defaults to metric[op,phase]
    source: Source | None = None
    alert: str | None = None            # alerting metrics: the one alert judged (None: every expected alert)

    @property
    def display(self) -> str:
        if self.name:
            return self.name
        spec = METRICS.get(self.metric)
        if spec is not None and spec.per_alert:   # about alerts, not operations: metric[ALERT] or metric[alerts]
            return f"{self.metric}[{self.alert or 'alerts'}]"
        return f"{self.metric}[{self.op},{self.phase}]"


@dataclass
class AbortCondition:
    metric: Literal["error_ratio", "p99_ms", "probe_failing"]
    above: float | None = None
    window: float = 10.0                # seconds (sliding)
    probe: str | None = None            # for probe_failing: e.g. "no_leader", "api_all_down"


@dataclass
class ExpectedAlert:
    """An alert the drill expects a fault to raise: it must fire within `fire_within` of the injection and be
    resolved within `resolve_within` of the heal (docs/scenario-format.md#alerts)."""

    alert: str                          # the alert rule's name (Prometheus `alertname`)
    fault: str                          # id of the fault that should raise it (each injection of it)
    labels: dict[str, str] = field(default_factory=dict)  # exact label matchers, e.g. {severity: page}
    fire_within: float = 60.0           # seconds from the injection to the firing notification
    resolve_within: float = 60.0        # seconds from the heal to the resolved notification
    source: Source | None = None


@dataclass
class AlertsSection:
    """Monitoring as part of the drill: what should page, what must not, and when not to start at all."""

    expected: list[ExpectedAlert] = field(default_factory=list)
    grace: float = 60.0                 # a firing this long after a fault's heal is still explained by it
    allow_firing_at_start: bool = False  # start even though an alert already fires (it is listed, not judged)
    abort_on: list[str] = field(default_factory=list)     # alert names that stop the drill (verdict aborted)
    alertmanager_url: str | None = None  # attached systems: the user's Alertmanager (API v2), loopback only
    prometheus_url: str | None = None    # attached systems: the user's Prometheus (/api/v1/alerts), loopback only
    receiver_url: str | None = None      # attached systems: the drill's receiver their Alertmanager notifies


@dataclass
class SLO:
    target: float = 0.9999              # success ratio objective
    period_days: float = 30.0


@dataclass
class Scenario:
    name: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    seed: int | None = None
    expect: Expect = "pass"
    stack: StackSection = field(default_factory=ReferenceStack)
    phases: Phases = field(default_factory=Phases)
    load: LoadSection = field(default_factory=LoadSection)
    faults: list[Fault] = field(default_factory=list)
    budgets: list[Budget] = field(default_factory=list)
    abort: list[AbortCondition] = field(default_factory=list)
    slo: SLO = field(default_factory=SLO)
    path: str | None = None             # the file it was loaded from
    alerts: AlertsSection | None = None  # None: no `alerts` section (false alarms are still judged if recorded)
    audit: AuditSection | None = None   # None: the reference stack's audit (drills/scenario/reference_audit.py)
