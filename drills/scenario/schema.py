"""The JSON Schema of the scenario format, built from the same tables the validator uses.

drills/scenario.schema.json is this function's output, checked in so editors can validate and complete
scenario files (`# yaml-language-server: $schema=../drills/scenario.schema.json`). A unit test fails when the
file and this builder drift apart; regenerate with `python -m drills.checks.regenerate --write` (with every other
file derived from the metric registry) or `python -m drills.scenario.schema --write` (this one alone).

The validator stays the authority: the schema cannot express cross-checks such as the fault schedule,
`after` references or the stack's service names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from drills.scenario.audit_schema import audit_schema
from drills.scenario.fault_types import FAULT_TYPES, FAULTS, ParamSpec, types_acting_on
from drills.scenario.limits import LIMITS, SEED_MAX, SEED_MIN
from drills.scenario.locustfile_path import LOCUSTFILE_PATTERN
from drills.scenario.loopback import LOOPBACK_PATTERN
from drills.scenario.metrics import ABORT_METRICS, ABORT_PROBES, ALERT_METRICS, METRICS
from drills.scenario.model import (
    BUDGET_METRICS,
    OPERATIONS,
    PHASES,
    SLO,
    TARGET_ROLES,
    AlertsSection,
    ExpectedAlert,
    LoadProfile,
    LoadSection,
    Phases,
    ReferenceStack,
)
from drills.scenario.schema_parts import closed_object, described
from drills.scenario.topology import ROLE_PATTERN, STATIC_ROLES
from drills.scenario.validate import NAME_PATTERN
from drills.scenario.validate_alerts import ALERT_NAME_PATTERN, LABEL_NAME_PATTERN
from drills.scenario.validate_faults import AFTER_EVENTS, ID_PATTERN, LABEL_PATTERN, SELECTIONS, ZONE_PATTERN
from drills.scenario.validate_load import BUILTIN_MIX_OPERATIONS, PROFILE_TYPES
from drills.scenario.validate_stack import COMPOSE_PROJECT_PATTERN

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "scenario.schema.json"

_NUM = r"[0-9]+(\.[0-9]+)?"
# The validator's durations (drills/scenario/durations.py), ASCII only; the string form cannot carry a maximum.
DURATION_PATTERN = rf"^({_NUM}|(?=[0-9])({_NUM} *h *)?({_NUM} *m *)?({_NUM} *s *)?({_NUM} *ms *)?)$"


_d, _obj = described, closed_object


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


DURATION = {"$ref": "#/$defs/duration"}
POSITIVE_DURATION = {"$ref": "#/$defs/positive_duration"}
TIMEOUT = {"$ref": "#/$defs/timeout"}
POSITIVE_TIMEOUT = {"$ref": "#/$defs/positive_timeout"}
_DURATION_LIMITS = ("duration", "timeout", "alert_delay")  # the limits a duration may have; each gives two $defs


def _duration_ref(limit: str | None, positive: bool) -> dict:
    kind = limit or "duration"
    if kind not in _DURATION_LIMITS:
        raise ValueError(f"no duration schema for the limit {kind}")
    return {"$ref": f"#/$defs/{'positive_' if positive else ''}{kind}"}


def _duration_defs() -> dict:
    defs = {}
    for kind in _DURATION_LIMITS:
        limit = LIMITS[kind]
        for positive in (False, True):
            low = {"exclusiveMinimum": 0} if positive else {"minimum": 0}
            defs[f"{'positive_' if positive else ''}{kind}"] = {
                "description": f"{'a positive ' if positive else ''}{kind} in seconds: a number, or text such as "
                               f"30s, 2m, 500ms, 1m30s; at most {limit.shown}",
                "anyOf": [{"type": "number", **low, "maximum": limit.cap()},
                          {"type": "string", "pattern": DURATION_PATTERN}]}
    return defs


def _param(spec: ParamSpec) -> dict:
    schema: dict
    if spec.kind == "int":
        schema = {"type": "integer"}
    elif spec.kind == "number":
        schema = {"type": "number"}
    elif spec.kind == "duration":
        schema = _duration_ref(spec.limit, spec.above)
    elif spec.kind in ("choice", "signal"):
        schema = {"type": "string", "enum": list(spec.choices)}
    elif spec.kind == "fault_ref":
        schema = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}
    else:  # groups
        schema = {"type": "array", "minItems": 2,
                  "items": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}}
    if spec.kind in ("int", "number") and spec.lo is not None:
        schema["exclusiveMinimum" if spec.above else "minimum"] = spec.lo
    if spec.kind in ("int", "number") and spec.maximum is not None:
        schema["maximum"] = spec.maximum
    if spec.default is not None:
        schema["default"] = spec.default
    schema["description"] = spec.doc + (" (required)" if spec.required else "")
    return schema


def _params_defs() -> dict:
    defs = {}
    for name, spec in FAULTS.items():
        required = [p for p, s in spec.params.items() if s.required]
        defs[f"params_{name}"] = _obj({p: _param(s) for p, s in spec.params.items()}, required,
                                      description=f"params of {name}: {spec.doc}")
    return defs


def _fault_rules() -> list[dict]:
    toxic = list(types_acting_on("link"))
    cluster_wide = list(types_acting_on("cluster"))  # no target, no link
    rules: list[dict] = [
        {"if": {"properties": {"type": {"enum": toxic}}, "required": ["type"]},
         "then": {"required": ["link"], "properties": {"target": False}},
         "else": {"properties": {"link": False}}},
        {"if": {"properties": {"type": {"enum": [t for t in types_acting_on("target") if t != "partition"]}},
                "required": ["type"]},
         "then": {"required": ["target"]}},
        {"if": {"properties": {"type": {"enum": cluster_wide}}, "required": ["type"]},
         "then": {"properties": {"target": False}}},
        {"if": {"properties": {"type": {"enum": [t for t, s in FAULTS.items() if s.instantaneous]}},
                "required": ["type"]},
         "then": {"properties": {"duration": False}}},
    ]
    for name in FAULT_TYPES:
        rules.append({"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                      "then": {"properties": {"params": _nullable({"$ref": f"#/$defs/params_{name}"})}}})
    return rules


def _budget_rules() -> list[dict]:
    """The registry's per-metric limits on `phase` and `op`, as the validator applies them."""
    rules: list[dict] = [{"if": {"properties": {"metric": {"enum": [m for m, s in METRICS.items() if s.whole_run]}},
                                 "required": ["metric"]},
                          "then": {"properties": {"phase": {"const": "all"}}}}]
    for unit, most in (("ms", LIMITS["latency"].cap("ms")), ("seconds", LIMITS["duration"].cap())):
        rules.append({"if": {"properties": {"metric": {"enum": [m for m, s in METRICS.items() if s.unit == unit]}},
                             "required": ["metric"]},
                      "then": {"properties": {"max": {"anyOf": [{"type": "number", "maximum": most},
                                                                {"type": "string"}]}}}})
    rules.append({"if": {"properties": {"metric": {"enum": list(ALERT_METRICS)}}, "required": ["metric"]},
                  "then": {"properties": {"op": False}}, "else": {"properties": {"alert": False}}})
    for m, s in METRICS.items():
        if s.ops:
            rules.append({"if": {"properties": {"metric": {"const": m}}, "required": ["metric"]},
                          "then": {"properties": {"op": {"enum": list(s.ops)}}}})
    return rules


def _budget() -> dict:
    floors = [m for m, s in METRICS.items() if s.bound == "min"]
    metric_doc = "; ".join(f"{m}: {s.meaning} ({s.bound})" for m, s in METRICS.items())
    return _obj({
        "metric": _d(f"what is measured. {metric_doc}", type="string", enum=list(BUDGET_METRICS)),
        "min": _d("floor: the budget fails below it (for metrics that are better when higher)", type="number"),
        "max": _d("ceiling: the budget fails above it (for metrics that are better when lower; durations may be "
                  "written 30s)", anyOf=[{"type": "number", "minimum": 0}, DURATION]),
        "op": _d("operation the metric is computed on", type="string", enum=list(OPERATIONS), default="purchase"),
        "phase": _d("part of the run the metric is computed over", type="string", enum=list(PHASES),
                    default="all"),
        "name": _d("display name in reports; defaults to metric[op,phase]", type=["string", "null"]),
        "alert": _d(f"alerting metrics ({', '.join(ALERT_METRICS)}) only: the one alert judged (an expected "
                    "alert; false_alarms: any alert); absent: every one", type="string",
                    pattern=f"^{ALERT_NAME_PATTERN}$"),
    }, ["metric"], oneOf=[{"required": ["min"]}, {"required": ["max"]}], allOf=_budget_rules(),
        **{"if": {"properties": {"metric": {"enum": floors}}, "required": ["metric"]},
           "then": {"properties": {"max": False}}, "else": {"properties": {"min": False}}},
        description="a limit the drill is judged by: exactly one of min or max")


def _alerts() -> dict:
    """The alerts section (drills/scenario/validate_alerts.py is the authority: rule names, fault ids)."""
    section, delay = AlertsSection(), _duration_ref("alert_delay", True)
    name = {"type": "string", "pattern": f"^{ALERT_NAME_PATTERN}$"}
    url = {"type": ["string", "null"], "pattern": LOOPBACK_PATTERN}
    most = int(LIMITS["alerts"].cap())
    expected = _obj({
        "alert": _d("the alert rule's name (alertname)", **name),
        "fault": _d("id of the fault whose every injection should raise it", type="string",
                    pattern=f"^{ID_PATTERN}$"),
        "labels": _d("exact label matchers, e.g. {severity: page}", type="object", maxProperties=most,
                     propertyNames={"pattern": f"^{LABEL_NAME_PATTERN}$"}, additionalProperties={"type": "string"}),
        "fire_within": {**delay, "description": "from the injection to the firing notification",
                        "default": ExpectedAlert("", "").fire_within},
        "resolve_within": {**delay, "description": "from the heal to the resolved notification",
                           "default": ExpectedAlert("", "").resolve_within},
    }, ["alert", "fault"], description="an alert a fault should raise")
    return _obj({
        "expected": _d("alerts the faults should raise", type=["array", "null"], maxItems=most, items=expected),
        "grace": {**_duration_ref("alert_delay", False), "description": "a firing this long after a fault's heal "
                  "is still explained by it; any other firing is a false alarm", "default": section.grace},
        "allow_firing_at_start": _d("start even though an alert already fires", type="boolean",
                                    default=section.allow_firing_at_start),
        "abort_on": _d("alert names that stop the drill (verdict aborted; everything is healed)",
                       type=["array", "null"], maxItems=most, items=name),
        "alertmanager_url": {**url, "description": "attached stacks: the user's Alertmanager (API v2), loopback"},
        "prometheus_url": {**url, "description": "attached stacks: the user's Prometheus (/api/v1/alerts), "
                                                 "loopback"},
        "receiver_url": {**url, "description": "attached stacks: the drill's alert receiver that the user's "
                                               "Alertmanager notifies, loopback"},
    }, description="monitoring as part of the drill: expected alerts, false alarms, guardrails")


def _role_probe(url: dict) -> dict:
    """A role probe: a command run in each container (its output matched), or an HTTP URL per service."""
    words = {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
    return _obj({
        "services": _d("compose services (or container names) the command runs in", **words),
        "command": _d("run inside each container (docker exec), e.g. [redis-cli, role]", **words),
        "match": _d("regular expression searched in the command's output: the container holds the role",
                    type="string"),
        "http": _d("service -> loopback URL; a 200 answer holds the role", type="object", minProperties=1,
                   additionalProperties=url),
    }, oneOf=[{"required": ["command", "services", "match"]}, {"required": ["http"]}],
        description="a command + match run in each of services, or http")


def build_schema() -> dict:
    ref, load, profile, phases, slo = ReferenceStack(), LoadSection(), LoadProfile(), Phases(), SLO()
    target = _obj({
        "service": _d("a service name (pg1, api2, haproxy, or a key of stack.attach.containers)", type="string"),
        "role": _d("a role, resolved when the fault is injected (an attached system's own roles too: "
                   "stack.attach.roles, role_probes)", type="string",
                   anyOf=[{"enum": list(TARGET_ROLES)}, {"pattern": f"^{ROLE_PATTERN}$"}]),
        "label": _d("key=value label of the user's own containers", type="string", pattern=f"^{LABEL_PATTERN}$"),
        "zone": _d("every container of a zone: a zone letter (a, b, ...), leader (the Patroni leader's zone when "
                   "the fault is injected) or replica (the first zone without the leader where a database replica "
                   "runs)", type="string", pattern=f"^(?:{ZONE_PATTERN})$"),
        "select": _d("which of the matching containers: one, all, minority, majority or a random one",
                     type="string", enum=list(SELECTIONS), default="one"),
        "count": _d("act on exactly this many matching containers (instead of select); at most the nodes its "
                    "service (1) or role can have in the stack", type="integer", minimum=1,
                    maximum=LIMITS["targets"].cap()),
        "wait": {**TIMEOUT, "description": "with a role: look again for a holder of the role for up to this long "
                                           "(a leader coming back) before the injection fails", "default": "0s"},
    }, oneOf=[{"required": ["service"]}, {"required": ["role"]}, {"required": ["label"]}, {"required": ["zone"]}],
        description="what a process, network or zone fault acts on: exactly one of service, role, label or zone")
    after = {"oneOf": [
        _d("shorthand: the id of a fault; this one starts when that one heals", type="string",
           pattern=f"^{ID_PATTERN}$"),
        _obj({"fault": _d("id of another fault", type="string", pattern=f"^{ID_PATTERN}$"),
              "event": _d("start relative to that fault's injection or its heal", type="string",
                          enum=list(AFTER_EVENTS), default="healed"),
              "delay": {**DURATION, "description": "seconds after that event (default 0)"}}, ["fault"]),
    ]}
    fault = _obj({
        "id": _d("unique id, used by `after` and in every event; default <type>-<position>", type="string",
                 pattern=f"^{ID_PATTERN}$"),
        "type": _d("; ".join(f"{t}: {s.doc}" for t, s in FAULTS.items()), type="string", enum=list(FAULT_TYPES)),
        "target": target,
        "link": _d("Toxiproxy link (proxy) for toxic faults: api<i>_db, lb_api<i>, or a pattern like api*_db",
                   type="string"),
        "at": {**DURATION, "description": "offset from the start of load (exactly one of at / after)"},
        "after": {**after, "description": "start relative to another fault (exactly one of at / after)"},
        "duration": _nullable({**POSITIVE_DURATION, "description": "how long the fault is held before it is "
                               "healed; null/absent: until the end of the steady phase"}),
        "repeat_every": _nullable({**POSITIVE_DURATION, "description": "inject again every N seconds (longer "
                                   "than duration), each time on a freshly resolved target"}),
        "repeat_count": _d("how many injections in all (needs repeat_every); absent: until the end of steady",
                           type=["integer", "null"], minimum=1, maximum=LIMITS["repetitions"].cap()),
        "params": _d("type-specific parameters (see the fault catalogue)", type=["object", "null"]),
    }, ["type"], allOf=_fault_rules(), oneOf=[{"required": ["at"]}, {"required": ["after"]}],
        description="one fault: what breaks, where, when and for how long")
    stage = _obj({
        "duration": {**POSITIVE_DURATION, "description": "length of the stage"},
        "users": _d("concurrent users (closed loop)", type="integer", minimum=0, maximum=LIMITS["users"].cap()),
        "rate": _d("operations started per second (arrival rate)", type="number", minimum=0,
                   maximum=LIMITS["rate"].cap()),
        "spawn_rate": _d("users started per second when ramping", type="number", exclusiveMinimum=0,
                         maximum=LIMITS["rate"].cap()),
    }, ["duration"], oneOf=[{"required": ["users"]}, {"required": ["rate"]}])
    profile_schema = _obj({
        "type": _d("constant_users: a fixed number of closed-loop users; arrival_rate: a fixed rate of operations "
                   "kept up during stalls; stages: a list of steps", type="string", enum=list(PROFILE_TYPES),
                   default=profile.type),
        "users": _d("concurrent users (constant_users)", type="integer", minimum=1,
                    maximum=LIMITS["users"].cap(), default=profile.users),
        "spawn_rate": _d("users started per second", type="number", exclusiveMinimum=0,
                         maximum=LIMITS["rate"].cap(), default=profile.spawn_rate),
        "rate": _d("operations started per second (arrival_rate)", type=["number", "null"], exclusiveMinimum=0,
                   maximum=LIMITS["rate"].cap()),
        "max_users": _d("cap on concurrent users offering the rate", type="integer", minimum=1,
                        maximum=LIMITS["users"].cap(), default=profile.max_users),
        "stages": _d("the steps of a stages profile", type="array", minItems=1, items=stage),
    }, allOf=[
        {"if": {"properties": {"type": {"const": "arrival_rate"}}, "required": ["type"]},
         "then": {"required": ["rate"], "properties": {"users": False}},
         "else": {"properties": {"rate": False}}},
        {"if": {"properties": {"type": {"const": "stages"}}, "required": ["type"]},
         "then": {"required": ["stages"], "properties": {"users": False}},
         "else": {"properties": {"stages": False}}},
    ], description="how much load: closed-loop users, an arrival rate, or stages")
    abort = _obj({
        "metric": _d("error_ratio and p99_ms over a sliding window, or a failing probe", type="string",
                     enum=list(ABORT_METRICS)),
        "above": _d(f"threshold (error_ratio: 0 to 1; p99_ms: milliseconds, at most {LIMITS['latency'].shown})",
                    type="number", minimum=0, maximum=LIMITS["latency"].cap("ms")),
        "window": {**POSITIVE_DURATION, "description": "sliding window (default 10 s)", "default": 10.0},
        "probe": _d("for probe_failing: which probe", type="string", enum=list(ABORT_PROBES)),
    }, ["metric"], **{"if": {"properties": {"metric": {"const": "probe_failing"}}, "required": ["metric"]},
                      "then": {"required": ["probe"], "properties": {"above": False}},
                      "else": {"required": ["above"], "properties": {"probe": False}}},
        description="stop the drill early (verdict aborted) when this holds")
    url = {"type": "string", "pattern": LOOPBACK_PATTERN}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "drills scenario",
        "description": "A failover drill: the stack, the load, the faults and the budgets it is judged by. "
                       "Reference: docs/scenario-format.md. `drill validate` is the authority.",
        **_obj({
            "name": _d("scenario name, part of the run directory's name (default: the file name)",
                       type="string", pattern=f"^{NAME_PATTERN}$"),
            "description": _d("what the drill shows, for the report", type=["string", "null"]),
            "tags": _d("free labels for filtering", type="array", items={"type": "string", "minLength": 1}),
            "seed": _d("random seed for load and target choice; absent: a fresh one, recorded in meta.json",
                       type=["integer", "null"], minimum=SEED_MIN, maximum=SEED_MAX),
            "expect": _d("fail: a self-test that must catch a known defect (the run passes when a budget fails)",
                         type="string", enum=["pass", "fail"], default="pass"),
            "stack": _obj({
                "reference": _nullable(_obj({
                    "async_replication": _d("turn Patroni synchronous replication off", type="boolean",
                                            default=ref.async_replication),
                    "api_replicas": _d("API replicas behind HAProxy", type="integer", minimum=1, maximum=9,
                                       default=ref.api_replicas),
                    "zones": _d("zones a, b, c, ... the nodes are spread over (etcd i, pg i, api i in zone "
                                "(i - 1) mod zones); 2 or more: two load balancers share a virtual IP; at most as "
                                "many as the database nodes, etcd members and API replicas fill (left out: 3, or "
                                "the API replicas if fewer)", type="integer", minimum=1, maximum=9,
                                default=ref.zones),
                    "hot_event_seats": _d("seats of the hot event", type="integer", minimum=1,
                                          default=ref.hot_event_seats),
                    "cold_events": _d("number of cold events", type="integer", minimum=0,
                                      default=ref.cold_events),
                    "cold_event_seats": _d("seats of each cold event", type="integer", minimum=1,
                                           default=ref.cold_event_seats),
                    "maximum_lag_on_failover": _d("Patroni: bytes a replica may lag and still be promoted",
                                                  type="integer", minimum=0, maximum=LIMITS["bytes"].cap(),
                                                  default=ref.maximum_lag_on_failover),
                    "keep": _d("leave the stack running after the drill", type="boolean", default=ref.keep),
                    "backups": _d("pgBackRest: archive WAL and take a full backup when the stack starts",
                                  type="boolean", default=ref.backups),
                    "backup_interval": {**DURATION, "description": "a scheduled backup on the leader this often "
                                        "(0: none; else at least 10 s)"},
                    "backup_type": _d("type of the scheduled backups", type="string", enum=["full", "diff", "incr"],
                                      default=ref.backup_type),
                    "backup_retention_full": _d("full backups pgBackRest keeps", type="integer", minimum=1,
                                                maximum=100, default=ref.backup_retention_full),
                    "archive_timeout": {**TIMEOUT, "description": "PostgreSQL archive_timeout: the longest a "
                                        "written WAL segment waits before it is archived"},
                    "zero_rpo_backups": _d("stream WAL synchronously into the backup repository: no write is "
                                           "acknowledged before it is there (RPO 0; needs backups and synchronous "
                                           "replication)", type="boolean", default=ref.zero_rpo_backups),
                    "monitoring": _d("Prometheus, Alertmanager and the drill's alert receiver in the stack "
                                     "(alerts.jsonl)", type="boolean", default=ref.monitoring),
                    "alert_rules": _d("extra Prometheus rule files in the scenario's folder, relative to it, "
                                      "loaded beside harness/monitoring/rules (at most 64 KiB each)", type="array",
                                      items={"type": "string", "pattern": LOCUSTFILE_PATTERN}),
                }, description="start the reference stack (the default)")),
                "attach": _obj({
                    "api_url": {**url, "description": "the API under test, on loopback"},
                    "compose_project": _d("a compose project: its containers (label com.docker.compose.project) "
                                          "are the services, named after com.docker.compose.service; a service's "
                                          "replicas are one service", type=["string", "null"],
                                          pattern=f"^{COMPOSE_PROJECT_PATTERN}$"),
                    "containers": _d("service name -> container name", type="object",
                                     additionalProperties={"type": "string", "minLength": 1}),
                    "label_selector": _d("Docker label (key or key=value); every matching container is a "
                                         "service", type=["string", "null"]),
                    "roles": _d(f"service name -> static role (your own word, e.g. {', '.join(STATIC_ROLES)})",
                                type="object", additionalProperties={"type": "string",
                                                                     "pattern": f"^{ROLE_PATTERN}$"}),
                    "role_probes": _d("role name -> how to find the containers holding a role that moves (asked "
                                      "at each fault injection)", type=["object", "null"],
                                      propertyNames={"pattern": f"^{ROLE_PATTERN}$"},
                                      additionalProperties=_role_probe(url)),
                    "ready": _nullable(_obj({
                        "http": {**url, "description": "a loopback URL answering 200 when the system serves"},
                        "role": _d("a role (role_probes or Patroni's) that must have a holder", type="string"),
                        "for": {**TIMEOUT, "description": "how long every check must hold in a row",
                                "default": "2s"},
                    }, description="when the system has recovered (absent: GET api_url + /readyz answers 200)")),
                    "patroni_urls": _d("service name -> Patroni REST URL on loopback (finds leader and "
                                       "replicas)", type="object", additionalProperties=url),
                    "toxiproxy_url": _nullable({**url, "description": "Toxiproxy API on loopback, for toxic "
                                                "faults"}),
                }, ["api_url"], description="use your own running containers"),
            }, oneOf=[{"required": ["reference"]}, {"required": ["attach"]}],
                description="exactly one of reference or attach (absent: the reference stack)"),
            "phases": _obj({
                "warmup": {**DURATION, "description": "load before measurements count", "default": phases.warmup},
                "steady": {**POSITIVE_DURATION, "description": "load while faults happen; every fault is "
                           "injected and healed within warmup + steady", "default": phases.steady},
                "recovery": {**DURATION, "description": "load after every fault is healed", "default":
                             phases.recovery},
            }, description=f"seconds of load in each phase, in this order; at most {LIMITS['phase_total'].shown} "
                           "together"),
            "load": _obj({
                "locustfile": _d("builtin, or the path of a file in the scenario's folder, relative to it (not "
                                 "absolute, no '..')", type="string", pattern=LOCUSTFILE_PATTERN,
                                 default=load.locustfile),
                "user_classes": _d("Locust user classes to run (default: the locustfile's)", type="array",
                                   items={"type": "string", "minLength": 1}),
                "profile": profile_schema,
                "operations": _d("a custom locustfile's own operation names (the `op` of its history lines), "
                                 "so budgets and abort conditions may name them", type="array", uniqueItems=True,
                                 items={"type": "string", "minLength": 1, "not": {"const": "all"}}),
                "mix": _d(f"operation -> weight (builtin operations: {', '.join(BUILTIN_MIX_OPERATIONS)}); replaces "
                          "the default mix", type="object", minProperties=1,
                          additionalProperties={"type": "number", "minimum": 0}, default=load.mix),
                "hot_share": _d("share of purchases aimed at the hot seats", type="number", minimum=0, maximum=1,
                                default=load.hot_share),
                "hot_seats": _d("size of the hot set of seats", type="integer", minimum=1, default=load.hot_seats),
                "request_timeout": {**POSITIVE_TIMEOUT, "description": "client timeout of one request",
                                    "default": load.request_timeout},
                "max_retries": _d("purchase retries with the same idempotency key; also how often a password "
                                  "check with no answer is asked again", type="integer", minimum=0,
                                  maximum=100, default=load.max_retries),
                "workers": _d("0: one Locust process; N: a master and N workers", type="integer", minimum=0,
                              maximum=64, default=load.workers),
            }, description="the load: who buys what, how fast"),
            "faults": _d("the fault schedule", type=["array", "null"], items=fault),
            "budgets": _d("what the drill is judged by; absent: the default budgets; the item `defaults` "
                          "includes them", type=["array", "null"], minItems=1,
                          items={"oneOf": [{"const": "defaults"}, {"$ref": "#/$defs/budget"}]}),
            "abort": _d("conditions that stop the drill early", type=["array", "null"], items=abort),
            "slo": _obj({
                "target": _d("success ratio objective", type="number", exclusiveMinimum=0, exclusiveMaximum=1,
                             default=slo.target),
                "period_days": _d("SLO period, for error budget burn", type="number", exclusiveMinimum=0,
                                  maximum=366, default=slo.period_days),
            }, description="the service level objective (for error_budget_burn)"),
            "alerts": _nullable(_alerts()),
            "audit": _nullable(audit_schema(POSITIVE_TIMEOUT)),
        }),
        # The reference stack's roles are a fixed list; an attached system names its own (roles, role_probes).
        "if": {"required": ["stack"], "properties": {"stack": {"required": ["attach"]}}},
        "else": {"properties": {"faults": {"items": {"properties": {"target": {"properties": {
            "role": {"enum": list(TARGET_ROLES)}}}}}}}},
        "$defs": {
            **_duration_defs(),
            "budget": _budget(),
            **_params_defs(),
        },
    }
    return schema


def render() -> str:
    return json.dumps(build_schema(), indent=2) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        SCHEMA_FILE.write_text(render())
    else:
        sys.stdout.write(render())
