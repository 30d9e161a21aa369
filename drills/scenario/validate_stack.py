"""The `stack` section: the reference stack we start, or the user's own containers we attach to.

Network rule: the tool only ever talks to loopback or its own containers, so every URL of an attached
stack must be http://127.0.0.1:PORT or http://localhost:PORT (drills/scenario/loopback.py).
"""

from __future__ import annotations

import re
from pathlib import Path

from drills.scenario.alert_rules import alert_names_in
from drills.scenario.limits import LIMITS
from drills.scenario.locustfile_path import scenario_file_problem
from drills.scenario.loopback import loopback_problem
from drills.scenario.model import AttachedStack, ReferenceStack, StackSection
from drills.scenario.nodes import Node, Scalar, Sequence
from drills.scenario.reader import Context, MapView
from drills.scenario.suggest import did_you_mean
from drills.scenario.topology import STATIC_ROLES

STACK_KEYS = ("reference", "attach")
REFERENCE_KEYS = ("async_replication", "api_replicas", "hot_event_seats", "cold_events", "cold_event_seats",
                  "maximum_lag_on_failover", "keep", "backups", "backup_interval", "backup_type",
                  "backup_retention_full", "archive_timeout", "monitoring", "alert_rules")
RULES_HELP = "a Prometheus rule file in the scenario's folder, relative to the scenario"
RULES_MAX_BYTES = 64 * 1024   # a handful of rules; the stack's options (a container label) carry the text
BACKUP_TYPES = ("full", "diff", "incr")
ATTACH_KEYS = ("api_url", "containers", "label_selector", "roles", "patroni_urls", "toxiproxy_url")

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
    rules = _alert_rules(ctx, m, base_dir)
    interval = m.values.get("backup_interval")
    if interval and interval < 10:
        m.error("backup_interval", f"expected 0 (no scheduled backups) or at least 10s, found {interval:g}s")
    if rules and m.values.get("monitoring") is False:
        m.error("alert_rules", "expected no alert_rules with monitoring: false (nothing would load them), found "
                               f"{len(rules)}")
    return ReferenceStack(**{**m.values, "alert_rules": rules})


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
    m.text_map("containers", "a mapping of service name to container name",
               value_check=lambda v: None if re.fullmatch(_CONTAINER_NAME, v) else
               (f"expected a container name, found '{v}'", None))
    m.text("label_selector", pattern=_LABEL_SELECTOR, pattern_help="a Docker label selector key or key=value",
           nullable=True)
    containers = m.values.get("containers") or {}
    discovered = "label_selector" in m.values
    known = tuple(containers)

    def service_check(service: str) -> tuple[str, str | None] | None:
        if discovered or service in known:
            return None
        return (f"expected a service named in stack.attach.containers ({', '.join(known) or 'none'}), "
                f"found '{service}'", did_you_mean(service, known))

    m.text_map("roles", "a mapping of service name to role", key_check=service_check,
               value_check=lambda v: None if v in STATIC_ROLES else
               (f"expected one of {', '.join(STATIC_ROLES)} (leader, sync_standby and replica are found "
                f"through patroni_urls), found '{v}'", did_you_mean(v, STATIC_ROLES)))
    m.text_map("patroni_urls", "a mapping of service name to Patroni REST URL", key_check=service_check,
               value_check=lambda v: (p, None) if (p := loopback_problem(v)) else None)
    m.text("toxiproxy_url", check=loopback_problem, nullable=True)
    # Without containers or a selector only load and Toxiproxy faults are possible; faults say so themselves.
    # An invalid api_url was reported; keep the attached shape so faults are checked against the right stack.
    values = dict(m.values)
    values["api_url"] = url or ""
    return AttachedStack(**values)
