"""`drill list faults|metrics` and `drill explain NAME`: the fault and metric catalogues, worded for a terminal.

Every word comes from the tables the validator, the schema and docs/scenario-format.md use
(drills/scenario/fault_types.py, fault_families.py, metrics.py, limits.py): a new fault type or metric is listed
and explained the moment it is declared, with nothing to copy here.
"""

from __future__ import annotations

from drills.scenario.fault_families import FAMILIES, FamilySpec
from drills.scenario.fault_types import FAULTS, FaultSpec, ParamSpec
from drills.scenario.metrics import METRICS, MetricSpec
from drills.scenario.suggest import did_you_mean

_ACTS_ON = {"target": "a `target` (containers)", "link": "a `link` (a Toxiproxy proxy)",
            "cluster": "the reference stack's database cluster (no target, no link)"}


def fault_rows() -> list[tuple[str, str, str, str]]:
    """(type, family, params, what it does) for every fault type, in catalogue order."""
    return [(name, spec.family, ", ".join(spec.params) or "-", spec.doc) for name, spec in FAULTS.items()]


def metric_rows() -> list[tuple[str, str, str, str, str]]:
    """(metric, bound, unit, kind, meaning) for every budget metric, in registry order."""
    return [(m.name, m.bound, m.unit, m.kind.replace("_", " "), m.meaning) for m in METRICS.values()]


def names() -> list[str]:
    """Everything `drill explain` knows: fault types, budget metrics and fault families."""
    return [*FAULTS, *METRICS, *(f for f in FAMILIES if f not in FAULTS and f not in METRICS)]


def explain(name: str) -> list[str] | None:
    """Lines explaining a fault type, a metric or a fault family; None when `name` is none of them."""
    if name in FAULTS:
        return _fault(name, FAULTS[name])
    if name in METRICS:
        return _metric(METRICS[name])
    if name in FAMILIES:
        return _family(FAMILIES[name])
    return None


def suggestion(name: str) -> str | None:
    """The known name `name` is probably a typo of."""
    return did_you_mean(name, names())


def _fault(name: str, spec: FaultSpec) -> list[str]:
    family = FAMILIES[spec.family]
    lines = [f"{name}: fault type, family {spec.family} ({family.doc})",
             f"  does: {spec.doc}",
             f"  acts on: {_ACTS_ON[family.acts_on]}"]
    if spec.instantaneous:
        lines.append("  happens at once and heals by itself: no `duration`")
    if spec.params:
        lines.append("  params:")
        lines += [f"    {p}: {_param(ps)}" for p, ps in spec.params.items()]
    else:
        lines.append("  params: none")
    return lines


def _param(p: ParamSpec) -> str:
    facts: list[str] = [p.kind]
    if p.required:
        facts.append("required")
    elif p.default is not None:
        facts.append(f"default {_value(p.default)}")
    unit = p.unit or (p.bound.unit if p.bound is not None else "")
    low = f"{'>' if p.above else '≥'} {p.lo:g}" if p.lo is not None else ""
    high = f"≤ {p.maximum:g}" if p.maximum is not None else ""
    if low or high:
        facts.append(" and ".join(x for x in (low, high) if x) + (f" {unit}" if unit else ""))
    if p.choices:
        facts.append("one of " + ", ".join(p.choices))
    return f"{p.doc} ({'; '.join(facts)})"


def _value(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _metric(m: MetricSpec) -> list[str]:
    example = "0.99" if m.unit == "ratio" else "0" if m.unit == "count" else "1.0" if m.unit == "burn" else "30"
    unit = {"count": "a count", "ratio": "a ratio, 0 to 1", "burn": "a share of the error budget"}.get(
        m.unit, f"in {m.unit}")
    lines = [f"{m.name}: budget metric ({m.kind.replace('_', ' ')}, {unit})",
             f"  means: {m.meaning}",
             f"  better when {'higher' if m.higher_is_better else 'lower'}: a budget sets "
             f"{'a floor' if m.bound == 'min' else 'a ceiling'} with `{m.bound}`",
             f"  example: - {{metric: {m.name}, {m.bound}: {example}}}"]
    if m.whole_run:
        lines.append("  judged over the whole run: its budgets' `phase` can only be `all`")
    if m.ops:
        lines.append("  `op`: " + ", ".join(m.ops))
    if m.kind == "availability":
        lines.append("  a saturated load generator makes a failed budget on it inconclusive, not failed")
    elif m.kind == "data_safety":
        lines.append("  data safety: a failed budget on it fails the run whatever the load generator did")
    return lines


def _family(f: FamilySpec) -> list[str]:
    members = [name for name, spec in FAULTS.items() if spec.family == f.name]
    return [f"{f.name}: fault family ({f.doc})",
            f"  acts on: {_ACTS_ON[f.acts_on]}",
            f"  fault types: {', '.join(members)}",
            f"  in the report: {f.label}"]
