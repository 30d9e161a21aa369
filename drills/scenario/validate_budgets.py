"""How a run is judged: `budgets` (pass/fail limits on metrics) and `abort` (stop early when it is hopeless)."""

from __future__ import annotations

from drills.scenario.budgets_default import default_budgets
from drills.scenario.limits import LIMITS
from drills.scenario.metrics import ABORT_METRICS, ABORT_PROBES, ALERT_METRICS, METRICS, MetricSpec, wrong_bound_reason
from drills.scenario.model import BUDGET_METRICS, OPERATIONS, PHASES, AbortCondition, Budget, Phases, Source
from drills.scenario.nodes import Node, Scalar
from drills.scenario.reader import Context, MapView
from drills.scenario.validate_alerts import ALERT_NAME_HELP, ALERT_NAME_PATTERN

BUDGET_KEYS = ("metric", "min", "max", "op", "phase", "name", "alert")
ABORT_KEYS = ("metric", "above", "window", "probe")
DEFAULTS_ITEM = "defaults"  # a budgets list item that stands for default_budgets()


def read_budgets(ctx: Context, node: Node | None, path: str, operations: tuple[str, ...] = OPERATIONS,
                 phases: Phases | None = None) -> list[Budget]:
    """The scenario's budgets; the defaults when the key is absent or null, or where the list says `defaults`.

    `operations` are the names `op` may take: the builtin ones plus a custom locustfile's (from its mix).
    """
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return default_budgets(phases)
    items = ctx.sequence(node, path, "budgets")
    if items is None:
        return default_budgets(phases)
    if not items:
        ctx.error(node, path, "expected at least one budget, found an empty list (leave `budgets` out for the "
                              "defaults, see docs/scenario-format.md)")
        return []
    budgets: list[Budget] = []
    seen: dict[str, str] = {}
    for item_path, item in items:
        if isinstance(item, Scalar) and item.value == DEFAULTS_ITEM:
            found = default_budgets(phases)
        else:
            one = _budget(ctx, item, item_path, operations)
            found = [one] if one is not None else []
        for budget in found:
            if budget.display in seen:
                ctx.error(item, item_path, f"expected each budget once, found {budget.display} again (first at "
                                           f"{seen[budget.display]}); give one a distinct `name`")
                continue
            seen[budget.display] = item_path
            budgets.append(budget)
    return budgets


def _budget(ctx: Context, node: Node, path: str, operations: tuple[str, ...]) -> Budget | None:
    if isinstance(node, Scalar) and isinstance(node.value, str):
        ctx.error(node, path, f"expected a budget (a mapping with metric and min or max) or '{DEFAULTS_ITEM}', "
                              f"found '{node.value}'", DEFAULTS_ITEM if node.value.lower().startswith("def") else None)
        return None
    before = len(ctx.issues)
    m = ctx.mapping(node, path, BUDGET_KEYS, "a budget", required=("metric",))
    if m is None:
        return None
    metric = m.text("metric", choices=BUDGET_METRICS)
    op = m.text("op", choices=operations)
    phase = m.text("phase", choices=PHASES)
    spec = METRICS[metric] if metric is not None else None
    if spec is not None and spec.whole_run and phase not in (None, "all"):
        m.error("phase", f"expected phase all for {metric} (it is measured over the run as a whole), "
                         f"found '{phase}'")
    if spec is not None and spec.ops and op is not None and op not in spec.ops:
        m.error("op", f"expected op {', '.join(spec.ops)} for {metric} (the only operations it counts), "
                      f"found '{op}'")
    m.text("name", nullable=True)
    _alert_scope(m, spec)
    bounds = [k for k in ("min", "max") if m.has(k)]
    if len(bounds) != 1:
        ctx.error(m.node_of("max") if bounds else m.node, m.at("max") if bounds else path,
                  "expected exactly one of min or max, found " + ("both" if bounds else "neither")
                  + (f" ({metric} takes {METRICS[metric].bound})" if metric else ""))
    for bound in bounds if len(bounds) == 1 else ():
        if metric is not None and METRICS[metric].bound != bound:
            m.key_error(bound, f"expected {METRICS[metric].bound}, found {bound}: "
                        f"{wrong_bound_reason(metric, bound)}")
        else:
            _limit(m, bound, metric)
    if metric is None or len(ctx.issues) > before:
        return None
    source = Source(ctx.file, node.line, node.column or 0) if node.line is not None else None
    return Budget(**m.values, source=source)


def _alert_scope(m: MapView, spec: MetricSpec | None) -> None:
    """Alerting metrics are about alerts, not operations: they take `alert` (one expected alert; without it,
    all of them) and no `op`; every other metric takes no `alert`."""
    if spec is not None and spec.per_alert:
        if m.has("op"):
            m.key_error("op", f"expected no op for {spec.name} (it judges alerts, not operations: name one with "
                              "`alert`), found one")
        m.text("alert", pattern=ALERT_NAME_PATTERN, pattern_help=ALERT_NAME_HELP)
        m.values["op"] = "all"
    elif spec is not None and m.has("alert"):
        m.key_error("alert", f"expected no alert for {spec.name} (only {', '.join(ALERT_METRICS)} judge "
                             "alerts), found one")


def _limit(m: MapView, bound: str, metric: str | None) -> None:
    unit = METRICS[metric].unit if metric else None
    if unit == "ratio":
        m.number(bound, 0, 1)
    elif unit == "seconds":
        m.duration(bound)
    elif unit == "ms":
        m.number(bound, 0, limit=LIMITS["latency"], unit="ms")
    elif unit == "count":
        m.integer(bound, 0)
    else:
        m.number(bound, 0)


def read_abort(ctx: Context, node: Node | None, path: str) -> list[AbortCondition]:
    if node is None or (isinstance(node, Scalar) and node.value is None):
        return []
    items = ctx.sequence(node, path, "abort conditions")
    if items is None:
        return []
    conditions = []
    for item_path, item in items:
        m = ctx.mapping(item, item_path, ABORT_KEYS, "an abort condition", required=("metric",))
        if m is None:
            continue
        before = len(ctx.issues)
        metric = m.text("metric", choices=ABORT_METRICS)
        m.duration("window", positive=True)
        if metric == "probe_failing":
            m.text("probe", choices=ABORT_PROBES)
            if not m.has("probe"):
                ctx.error(m.node, m.at("probe"), f"expected a 'probe' ({', '.join(ABORT_PROBES)}) for "
                                                 "probe_failing, found none")
            if m.has("above"):
                m.key_error("above", "expected no `above` for probe_failing (it aborts when the probe fails for the "
                            "whole window), found one")
        elif metric is not None:
            if metric == "error_ratio":
                m.number("above", 0, 1)
            else:
                m.number("above", 0, limit=LIMITS["latency"], unit="ms")
            if not m.has("above"):
                ctx.error(m.node, m.at("above"), f"expected an `above` threshold for {metric}, found none")
            if m.has("probe"):
                m.key_error("probe", f"expected no probe for {metric} (probes belong to probe_failing), found one")
        if metric is not None and len(ctx.issues) == before:
            conditions.append(AbortCondition(**m.values))
    return conditions
