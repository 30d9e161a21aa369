"""The `alerts` section: which alerts each fault should raise, what counts as a false alarm, when not to start
and when to stop (docs/scenario-format.md#alerts).

Alert names are checked against the rules the reference stack ships (drills/scenario/alert_rules.py, read from
harness/monitoring/rules/*.yml), so a typo or a renamed rule is an error with a did-you-mean before the drill
runs, not a "missed alert" after it. An attached system's rules are the user's own: names are not checked there.
Each expected alert is a promise the drill judges: unless the budgets already do, `implied_budgets` adds
`missed_alerts[NAME] max 0`, `time_to_resolve_s[NAME] max resolve_within` and `false_alarms max 0`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence as Seq

from drills.scenario.alert_rules import alert_names_in, rule_alert_names
from drills.scenario.limits import LIMITS
from drills.scenario.loopback import loopback_problem
from drills.scenario.metrics import METRICS
from drills.scenario.model import (
    AlertsSection,
    AttachedStack,
    Budget,
    ExpectedAlert,
    ReferenceStack,
    Source,
    StackSection,
)
from drills.scenario.nodes import Mapping, Node, Scalar, Sequence
from drills.scenario.reader import Context, MapView, child
from drills.scenario.suggest import did_you_mean

ALERTS_KEYS = ("expected", "grace", "allow_firing_at_start", "abort_on", "alertmanager_url", "prometheus_url",
               "receiver_url")
EXPECTED_KEYS = ("alert", "fault", "labels", "fire_within", "resolve_within")
# Prometheus refuses a rule whose alert name is not a valid metric name, and a label name outside this pattern.
ALERT_NAME_PATTERN = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME_PATTERN = r"[a-zA-Z_][a-zA-Z0-9_]*"
ALERT_NAME_HELP = "an alert name (letters, digits, '_' and ':', not starting with a digit)"
URL_KEYS = ("alertmanager_url", "prometheus_url", "receiver_url")


def read_alerts(ctx: Context, node: Node | None, path: str, stack: StackSection,
                fault_ids: Seq[str]) -> AlertsSection | None:
    """The section, or None when it is absent or null; every problem is recorded in `ctx`."""
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return None
    m = ctx.mapping(node, path, ALERTS_KEYS, "the alerts section")
    if m is None:
        return None
    known = _known_names(stack)
    m.duration("grace", limit=LIMITS["alert_delay"])
    m.flag("allow_firing_at_start")
    for key in URL_KEYS:
        m.text(key, check=loopback_problem, nullable=True)
    names = _names(ctx, m, known)
    expected = _expected(ctx, m, fault_ids, known)
    _check_system(ctx, m, stack, bool(expected or names))
    values = {k: v for k, v in m.values.items() if k not in ("expected", "abort_on")}
    return AlertsSection(expected=expected, abort_on=names, **values)


def _known_names(stack: StackSection) -> tuple[str, ...] | None:
    """The alert names the system's rules define; None when they cannot be known (an attached system's own
    rules, or a checkout without rule files)."""
    if isinstance(stack, AttachedStack):
        return None
    shipped = rule_alert_names()
    if shipped is None:
        return None
    own = {name for text in stack.alert_rules.values() for name in alert_names_in(text) or ()}
    return tuple(sorted({*shipped, *own}))


def _check_name(ctx: Context, node: Node, path: str, name: str, known: tuple[str, ...] | None) -> bool:
    if known is not None and name not in known:
        listed = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "") if known else "none"
        ctx.error(node, path, "expected an alert that a rule in harness/monitoring/rules or "
                              f"stack.reference.alert_rules defines ({listed}), found '{name}'",
                  did_you_mean(name, known))
        return False
    return True


def _names(ctx: Context, m: MapView, known: tuple[str, ...] | None) -> list[str]:
    node = m.node_of("abort_on")
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return []
    values = m.texts("abort_on", "alert names") or []
    items = node.items if isinstance(node, Sequence) else []
    most = int(LIMITS["alerts"].cap())
    if len(values) > most:
        m.error("abort_on", f"expected {LIMITS['alerts'].note}, found {len(values)}")
        return []
    kept = []
    for i, (name, item) in enumerate(zip(values, items, strict=False)):
        at = f"{m.at('abort_on')}[{i}]"
        if not re.fullmatch(ALERT_NAME_PATTERN, name):
            ctx.error(item, at, f"expected {ALERT_NAME_HELP}, found '{name}'")
        elif _check_name(ctx, item, at, name, known):
            kept.append(name)
    return kept


def _expected(ctx: Context, parent: MapView, fault_ids: Seq[str], known: tuple[str, ...] | None,
              ) -> list[ExpectedAlert]:
    node = parent.node_of("expected")
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return []
    items = ctx.sequence(node, parent.at("expected"), "expected alerts")
    if items is None:
        return []
    if len(items) > LIMITS["alerts"].cap():
        ctx.error(node, parent.at("expected"), f"expected {LIMITS['alerts'].note}, found {len(items)}")
        return []
    out: list[ExpectedAlert] = []
    seen: dict[tuple, str] = {}
    for item_path, item in items:
        one = _one_expected(ctx, item, item_path, fault_ids, known)
        if one is None:
            continue
        key = (one.alert, one.fault, tuple(sorted(one.labels.items())))
        if key in seen:
            ctx.error(item, item_path, f"expected each alert once per fault, found {one.alert} for {one.fault} "
                                       f"again (first at {seen[key]})")
            continue
        seen[key] = item_path
        out.append(one)
    return out


def _one_expected(ctx: Context, node: Node, path: str, fault_ids: Seq[str], known: tuple[str, ...] | None,
                  ) -> ExpectedAlert | None:
    m = ctx.mapping(node, path, EXPECTED_KEYS, "an expected alert", required=("alert", "fault"))
    if m is None:
        return None
    before = len(ctx.issues)
    name = m.text("alert", pattern=ALERT_NAME_PATTERN, pattern_help=ALERT_NAME_HELP)
    if name is not None and not _check_name(ctx, m.value_node("alert"), m.at("alert"), name, known):
        m.values.pop("alert", None)
    fault = m.text("fault")
    if fault is not None and fault not in fault_ids:
        m.error("fault", f"expected the id of a fault of this scenario ({', '.join(fault_ids) or 'none'}), found "
                         f"'{fault}'", did_you_mean(fault, fault_ids))
    labels = m.text_map("labels", "a mapping of label name to value", key_check=_label_problem)
    if labels is not None and len(labels) > LIMITS["alerts"].cap():
        m.error("labels", f"expected {LIMITS['alerts'].note} label matchers, found {len(labels)}")
    m.duration("fire_within", positive=True, limit=LIMITS["alert_delay"])
    m.duration("resolve_within", positive=True, limit=LIMITS["alert_delay"])
    if len(ctx.issues) > before or name is None or fault is None:
        return None
    source = Source(ctx.file, node.line, node.column or 0) if node.line is not None else None
    return ExpectedAlert(**m.values, source=source)


def _label_problem(name: str) -> tuple[str, str | None] | None:
    if re.fullmatch(LABEL_NAME_PATTERN, name):
        return None
    return f"expected a label name (letters, digits and '_', not starting with a digit), found '{name}'", None


def _check_system(ctx: Context, m: MapView, stack: StackSection, watched: bool) -> None:
    """Where the alerts come from: the reference stack's own monitoring, or the URLs of an attached system."""
    urls = [k for k in URL_KEYS if m.given(k)]
    if isinstance(stack, AttachedStack):
        if watched and not (set(urls) & {"alertmanager_url", "prometheus_url"}):
            ctx.error(m.node, m.path, "expected alertmanager_url or prometheus_url (loopback) for an attached stack "
                                      "with expected or abort_on alerts: the drill cannot see its alerts otherwise, "
                                      "found neither")
        return
    for key in urls:
        m.key_error(key, f"expected no {key} with the reference stack (it brings its own Prometheus and "
                         "Alertmanager), found one; it is for stack.attach")
    if watched and not stack.monitoring:
        ctx.error(m.node, m.path, "expected monitoring on (stack.reference.monitoring) for expected or abort_on "
                                  "alerts, found it turned off")


def check_budget_alerts(ctx: Context, node: Node | None, path: str, alerts: Node | None) -> None:
    """A budget's `alert` names an alert written in alerts.expected (`alerts` is that section's node, so a typo
    there is not reported twice); false_alarms may name any alert."""
    if not isinstance(node, Sequence):
        return
    expected = _written_names(alerts)
    for i, item in enumerate(node.items):
        if not isinstance(item, Mapping):
            continue
        pairs = {k.value: v for k, v in item.pairs}
        metric, alert = pairs.get("metric"), pairs.get("alert")
        if not isinstance(alert, Scalar) or not isinstance(alert.value, str):
            continue
        at = child(f"{path}[{i}]", "alert")
        spec = METRICS.get(metric.value) if isinstance(metric, Scalar) and isinstance(metric.value, str) else None
        if spec is None or not spec.per_alert:
            continue   # validate_budgets refuses `alert` on such a metric
        if spec.name == "false_alarms":
            continue   # any alert may fire falsely; its name's shape was checked with the budget
        if alert.value not in expected:
            ctx.error(alert, at, f"expected one of the alerts in alerts.expected ({', '.join(expected) or 'none'}), "
                                 f"found '{alert.value}'", did_you_mean(alert.value, expected))


def _written_names(alerts: Node | None) -> tuple[str, ...]:
    """The `alert` names written in alerts.expected, valid or not."""
    section = dict((k.value, v) for k, v in alerts.pairs) if isinstance(alerts, Mapping) else {}
    items = section.get("expected")
    names: list[str] = []
    for item in items.items if isinstance(items, Sequence) else []:
        pairs = dict((k.value, v) for k, v in item.pairs) if isinstance(item, Mapping) else {}
        alert = pairs.get("alert")
        if isinstance(alert, Scalar) and isinstance(alert.value, str):
            names.append(alert.value)
    return tuple(dict.fromkeys(names))


def implied_budgets(alerts: AlertsSection | None, budgets: list[Budget], stack: StackSection) -> list[Budget]:
    """The budgets an alerts section implies and the scenario does not already state: each expected alert must
    fire in time (missed_alerts[NAME] max 0) and resolve in time (time_to_resolve_s[NAME] max resolve_within),
    and nothing may fire without a fault (false_alarms max 0). None with the reference stack's monitoring off
    (nothing could judge them: a run measuring monitoring's cost must not turn inconclusive)."""
    if alerts is None or (isinstance(stack, ReferenceStack) and not stack.monitoring):
        return []
    stated = {(b.metric, b.alert) for b in budgets}
    metrics = {b.metric for b in budgets}
    names = {b.display for b in budgets}
    out: list[Budget] = []

    def add(budget: Budget) -> None:
        if budget.display not in names:
            names.add(budget.display)
            out.append(budget)

    resolve: dict[str, float] = {}   # an alert expected of several faults: its largest resolve_within
    for e in alerts.expected:
        resolve[e.alert] = max(resolve.get(e.alert, 0.0), e.resolve_within)
    for name, within in resolve.items():
        if ("missed_alerts", name) not in stated and ("missed_alerts", None) not in stated:
            add(Budget("missed_alerts", max=0, op="all", alert=name))
        if ("time_to_resolve_s", name) not in stated and ("time_to_resolve_s", None) not in stated:
            add(Budget("time_to_resolve_s", max=within, op="all", alert=name))
    if "false_alarms" not in metrics:
        add(Budget("false_alarms", max=0, op="all"))
    return out
