"""The `stack` section: the reference stack we start, or the user's own containers we attach to.

Network rule: the tool only ever talks to loopback or its own containers, so every URL of an attached
stack must be http://127.0.0.1:PORT or http://localhost:PORT (drills/scenario/loopback.py).

Which containers exist is only known when the drill attaches (drills/platform/system.py checks the names
given here against them before any fault); what can be checked without Docker is checked here.
"""

from __future__ import annotations

import re
from pathlib import Path

from drills.scenario.alert_rules import alert_names_in
from drills.scenario.limits import LIMITS
from drills.scenario.locustfile_path import scenario_file_problem
from drills.scenario.loopback import loopback_problem
from drills.scenario.model import AttachedStack, Readiness, ReferenceStack, RoleProbe, StackSection
from drills.scenario.nodes import Mapping, Node, Scalar, Sequence, describe
from drills.scenario.reader import Context, MapView, child
from drills.scenario.suggest import did_you_mean
from drills.scenario.topology import (
    DYNAMIC_ROLES,
    PATRONI_ROLES,
    REFERENCE_DB_NODES,
    REFERENCE_ETCD_NODES,
    ROLE_HELP,
    ROLE_PATTERN,
    STATIC_ROLES,
)
from drills.scenario.zero_rpo import zero_rpo_conflict
from drills.scenario.zone_count import most_zones, zones_problem

STACK_KEYS = ("reference", "attach")
REFERENCE_KEYS = ("async_replication", "api_replicas", "zones", "hot_event_seats", "cold_events", "cold_event_seats",
                  "maximum_lag_on_failover", "keep", "backups", "backup_interval", "backup_type",
                  "backup_retention_full", "archive_timeout", "monitoring", "alert_rules", "zero_rpo_backups")
RULES_HELP = "a Prometheus rule file in the scenario's folder, relative to the scenario"
RULES_MAX_BYTES = 64 * 1024   # a handful of rules; the stack's options (a container label) carry the text
BACKUP_TYPES = ("full", "diff", "incr")
ATTACH_KEYS = ("api_url", "compose_project", "containers", "label_selector", "roles", "role_probes", "ready",
               "patroni_urls", "toxiproxy_url")
PROBE_KEYS = ("services", "command", "match", "http")
READY_KEYS = ("http", "role", "for")
# docker compose's own rule for project names (v1 lower-cases and strips anything else the same way)
COMPOSE_PROJECT_PATTERN = r"[a-z0-9][a-z0-9_-]{0,62}"
COMPOSE_PROJECT_HELP = ("a compose project name (lower-case letters, digits, '-' and '_', as `docker compose ls` "
                        "or the label com.docker.compose.project shows it)")

_LABEL_SELECTOR = r"[A-Za-z0-9][A-Za-z0-9._/-]*(=[^\s]*)?"
_CONTAINER_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"


def read_stack(ctx: Context, node: Node | None, path: str, base_dir: Path | None = None) -> StackSection:
    if node is None:
        return ReferenceStack()
    m = ctx.mapping(node, path, STACK_KEYS, "the stack section")
    if m is None:
        return ReferenceStack()
    if m.has("reference") and m.has("attach"):
        m.key_error("attach", "expected exactly one of stack.reference or stack.attach, found both")
        return _reference(ctx, m, base_dir)
    if m.has("attach"):
        return _attach(ctx, m) or AttachedStack(api_url="")
    if not m.has("reference"):
        ctx.error(node, path, "expected exactly one of stack.reference or stack.attach, found neither "
                              "(leave `stack` out to start the reference stack)")
    return _reference(ctx, m, base_dir)


def _reference(ctx: Context, parent: MapView, base_dir: Path | None = None) -> ReferenceStack:
    node = parent.node_of("reference")
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return ReferenceStack()  # `reference:` alone means all defaults
    m = ctx.mapping(node, parent.at("reference"), REFERENCE_KEYS, "the reference stack")
    if m is None:
        return ReferenceStack()
    m.flag("async_replication")
    m.integer("api_replicas", 1, 9)
    m.integer("zones", 1, 9)
    _zones(m)
    m.integer("hot_event_seats", 1, 1_000_000)
    m.integer("cold_events", 0, 100)
    m.integer("cold_event_seats", 1, 1_000_000)
    m.integer("maximum_lag_on_failover", 0, limit=LIMITS["bytes"])
    m.flag("keep")
    m.flag("backups")
    m.duration("backup_interval")
    m.text("backup_type", choices=BACKUP_TYPES)
    m.integer("backup_retention_full", 1, 100)
    m.duration("archive_timeout", limit=LIMITS["timeout"])
    m.flag("monitoring")
    m.flag("zero_rpo_backups")
    rules = _alert_rules(ctx, m, base_dir)
    conflict = zero_rpo_conflict(bool(m.values.get("zero_rpo_backups")), m.values.get("backups", True),
                                 bool(m.values.get("async_replication")))
    if conflict:
        m.error("zero_rpo_backups", conflict[1])
    interval = m.values.get("backup_interval")
    if interval and interval < 10:
        m.error("backup_interval", f"expected 0 (no scheduled backups) or at least 10s, found {interval:g}s")
    if rules and m.values.get("monitoring") is False:
        m.error("alert_rules", "expected no alert_rules with monitoring: false (nothing would load them), found "
                               f"{len(rules)}")
    return ReferenceStack(**{**m.values, "alert_rules": rules})


def _zones(m: MapView) -> None:
    """`zones` the nodes can fill (each zone gets a database node, an etcd member and an API replica); left out:
    3, or as many as the API replicas fill."""
    api = m.values.get("api_replicas", ReferenceStack.api_replicas)
    most = most_zones(REFERENCE_DB_NODES, REFERENCE_ETCD_NODES, api)
    if "zones" not in m.values:
        if not m.has("zones"):
            m.values["zones"] = min(ReferenceStack.zones, most)
        return
    problem = zones_problem(m.values["zones"], REFERENCE_DB_NODES, REFERENCE_ETCD_NODES, api)
    if problem:
        m.error("zones", problem)
        m.values["zones"] = most


def _alert_rules(ctx: Context, m: MapView, base_dir: Path | None) -> dict[str, str]:
    """`alert_rules`: the scenario's own Prometheus rule files (a drill of its own rules, or a self-test with a
    deliberately broken one), each read now: path -> text."""
    paths = m.texts("alert_rules", "rule files") or []
    m.values.pop("alert_rules", None)
    node = m.node_of("alert_rules")
    items = node.items if isinstance(node, Sequence) else []
    out: dict[str, str] = {}
    for i, (text, item) in enumerate(zip(paths, items, strict=False)):
        at = f"{m.at('alert_rules')}[{i}]"
        problem = scenario_file_problem(text, base_dir, RULES_HELP)
        if problem is None and base_dir is not None:
            full = base_dir / text
            if full.stat().st_size > RULES_MAX_BYTES:
                problem = f"expected {RULES_HELP} of at most 64 KiB, found '{text}' ({full.stat().st_size} bytes)"
            else:
                try:
                    content = full.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    problem = f"expected {RULES_HELP}, found '{text}' (it cannot be read: {exc})"
                else:
                    if alert_names_in(content) is None:
                        problem = (f"expected {RULES_HELP}, found '{text}' (not Prometheus' rule format: "
                                   "`groups: [{name, rules: [{alert, expr, ...}]}]`)")
                    else:
                        out[text] = content
        if problem is not None:
            ctx.error(item, at, problem)
    return out


def _attach(ctx: Context, parent: MapView) -> AttachedStack | None:
    m = ctx.mapping(parent.value_node("attach"), parent.at("attach"), ATTACH_KEYS, "an attached stack",
                    required=("api_url",))
    if m is None:
        return None
    url = m.text("api_url", check=loopback_problem)
    m.text("compose_project", pattern=COMPOSE_PROJECT_PATTERN, pattern_help=COMPOSE_PROJECT_HELP, nullable=True)
    m.text_map("containers", "a mapping of service name to container name",
               value_check=lambda v: None if re.fullmatch(_CONTAINER_NAME, v) else
               (f"expected a container name, found '{v}'", None))
    m.text("label_selector", pattern=_LABEL_SELECTOR, pattern_help="a Docker label selector key or key=value",
           nullable=True)
    containers = m.values.get("containers") or {}
    discovered = "label_selector" in m.values or "compose_project" in m.values
    known = tuple(containers)

    def service_check(service: str) -> tuple[str, str | None] | None:
        if discovered or service in known:
            return None
        return (f"expected a service named in stack.attach.containers ({', '.join(known) or 'none'}; or give "
                f"compose_project or label_selector to find them), found '{service}'", did_you_mean(service, known))

    m.text_map("roles", "a mapping of service name to role", key_check=service_check, value_check=_static_role)
    m.text_map("patroni_urls", "a mapping of service name to Patroni REST URL", key_check=service_check,
               value_check=lambda v: (p, None) if (p := loopback_problem(v)) else None)
    m.text("toxiproxy_url", check=loopback_problem, nullable=True)
    probes = _role_probes(ctx, m, service_check)
    ready = _ready(ctx, m, probes)
    # Without containers or a selector only load and Toxiproxy faults are possible; faults say so themselves.
    # An invalid api_url was reported; keep the attached shape so faults are checked against the right stack.
    values = dict(m.values)
    values["api_url"] = url or ""
    return AttachedStack(**{**values, "role_probes": probes, "ready": ready})


def _static_role(role: str) -> tuple[str, str | None] | None:
    """A static role is the user's own word (`database`, `sentinel`, or one of the reference stack's); a role
    that moves is found by a probe, never declared."""
    if role in DYNAMIC_ROLES:
        return (f"expected a static role ({ROLE_HELP}, e.g. {', '.join(STATIC_ROLES)}), found '{role}', which "
                "moves between containers: find it with stack.attach.role_probes (or patroni_urls for Patroni's "
                "leader, sync_standby and replica)", None)
    if not re.fullmatch(ROLE_PATTERN, role):
        return f"expected {ROLE_HELP}, found '{role}'", did_you_mean(role, STATIC_ROLES)
    return None


def _role_probes(ctx: Context, m: MapView, service_check) -> dict[str, RoleProbe]:
    """`role_probes: {ROLE: {services, command, match} | {http: {SERVICE: URL}}}`: the dynamic roles."""
    node = m.node_of("role_probes")
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return {}
    path = m.at("role_probes")
    if not isinstance(node, Mapping):
        ctx.error(node, path, f"expected a mapping of role name to probe, found {describe(node)}")
        return {}
    static = set((m.values.get("roles") or {}).values())
    patroni = bool(m.values.get("patroni_urls"))
    out: dict[str, RoleProbe] = {}
    for key, value in node.pairs:
        role = key.value
        at = child(path, str(role))
        if not isinstance(role, str) or not re.fullmatch(ROLE_PATTERN, role):
            ctx.error(key, at, f"expected {ROLE_HELP}, found {describe(key)}")
            continue
        if role in out:
            ctx.error(key, at, "duplicate key; give each role once")
            continue
        if role in static:
            ctx.error(key, at, f"expected a role that moves, found '{role}', which stack.attach.roles already gives "
                               "as a static role: give it one way")
            continue
        if patroni and role in (*PATRONI_ROLES, "postgres"):
            ctx.error(key, at, f"expected one way to find '{role}', found both patroni_urls and role_probes.{role}")
            continue
        probe = _role_probe(ctx, value, at, service_check)
        if probe is not None:
            out[role] = probe
    return out


def _role_probe(ctx: Context, node: Node, path: str, service_check) -> RoleProbe | None:
    p = ctx.mapping(node, path, PROBE_KEYS, "a role probe (services + command + match, or http)")
    if p is None:
        return None
    services = p.texts("services", "services")
    command = p.texts("command", "command words")
    p.text("match", check=_regex_problem)
    http = p.text_map("http", "a mapping of service name to a loopback URL that answers 200 on the holder",
                      key_check=service_check, value_check=lambda v: (q, None) if (q := loopback_problem(v)) else None)
    if p.has("command") == p.has("http"):
        found = "both" if p.has("command") else "neither"
        ctx.error(p.node, path, "expected exactly one of command (run in each of services, its output matched "
                                f"by match) or http (service -> URL), found {found}")
        return None
    if p.has("command"):
        for key in ("services", "match"):
            if not p.has(key) and not p.misspelled(key):
                ctx.error(p.node, p.at(key), f"expected '{key}' with command (" + (
                    "the compose services or containers it runs in" if key == "services" else
                    "a regular expression its output holds on a container that has the role") + "), found none")
        if command is not None and not command:
            p.error("command", "expected a command of at least one word (e.g. [redis-cli, role]), found an empty list")
        if services is not None and not services:
            p.error("services", "expected at least one service, found an empty list")
        for i, item in enumerate(_items(p, "services")):
            value = item.value if isinstance(item, Scalar) else None
            problem = service_check(value) if isinstance(value, str) else None
            if problem:
                ctx.error(item, f"{p.at('services')}[{i}]", problem[0], problem[1])
    else:
        for key in ("services", "match"):
            if p.has(key):
                p.key_error(key, f"expected no {key} with http (its keys are the services asked; a 200 answer "
                                 f"holds the role), found {key}")
        if http is not None and not http:
            p.error("http", "expected at least one service -> URL, found an empty mapping")
    return RoleProbe(**p.values)


def _items(m: MapView, key: str) -> list[Node]:
    node = m.node_of(key)
    return node.items if isinstance(node, Sequence) else []


def _regex_problem(text: str) -> str | None:
    try:
        re.compile(text)
    except re.error as exc:
        return f"expected a regular expression (Python's re), found '{text}' ({exc})"
    return None


def _ready(ctx: Context, m: MapView, probes: dict[str, RoleProbe]) -> Readiness:
    """`ready: {http, role, for}`: when the system serves again (absent: GET api_url + /readyz is 200)."""
    node = m.node_of("ready")
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return Readiness()
    r = ctx.mapping(node, m.at("ready"), READY_KEYS, "the readiness check (http, role, for)")
    if r is None:
        return Readiness()
    r.text("http", check=loopback_problem)
    written = m.node_of("role_probes")   # a probe written but refused was reported already: no second issue
    named = [k.value for k, _ in written.pairs if isinstance(k.value, str)] if isinstance(written, Mapping) else []
    roles = (*dict.fromkeys([*probes, *named]), *(PATRONI_ROLES if m.values.get("patroni_urls") else ()))
    r.text("role", nullable=True)
    role = r.values.get("role")
    if role is not None and role not in roles:
        r.error("role", f"expected a role of stack.attach.role_probes or Patroni's (with patroni_urls): "
                        f"{', '.join(roles) or 'none declared'}, found '{role}'", did_you_mean(role, roles))
        r.values.pop("role")
    r.duration("for", limit=LIMITS["timeout"])
    if not r.has("http") and not r.has("role") and not (r.misspelled("http") or r.misspelled("role")):
        ctx.error(node, m.at("ready"), "expected http (a loopback URL that answers 200 when ready) or role (a role "
                                       "that has a holder), or both, found neither")
    values = {k: v for k, v in r.values.items() if k != "for"}
    return Readiness(**values, **({"hold": r.values["for"]} if "for" in r.values else {}))
