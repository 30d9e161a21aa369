"""The key numbers of a run: what `drill trend` draws over time and `drill compare --fail-on-regression` gates.

Each row names a budget metric of drills/scenario/metrics.py — its unit, which direction is better and what it
means come from that registry, never from here — and where result.json keeps the run's value of it. The
regression gate's default tolerance is one per unit (TOLERANCE_BY_UNIT), so a new metric of a known unit needs
no new tolerance; README ("Trends, regressions, re-judging") prints the table (a unit test keeps it in step).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drills.report.fmt import as_float, metric_value
from drills.scenario.metrics import METRICS, MetricSpec, Unit

_FAULT_PHASES = ("warmup", "steady", "recovery", "before_fault", "during_fault", "after_heal")


@dataclass(frozen=True)
class KeyNumber:
    """One number of a run worth following across runs."""

    key: str                   # unique; the metric's name, or `metric@phase` for a per-phase number
    label: str                 # as a chart title or a table row names it
    metric: str                # a row of drills/scenario/metrics.py: unit, direction, meaning
    path: tuple[str, ...]      # where result.json keeps it
    phase: str = "all"         # the phase the number is about (a budget on the same metric and phase matches)
    gated: bool = True         # `drill compare --fail-on-regression` judges it (per-phase latency is too noisy)

    @property
    def spec(self) -> MetricSpec:
        return METRICS[self.metric]

    @property
    def higher_is_better(self) -> bool:
        return self.spec.higher_is_better

    def value(self, doc: Mapping[str, Any] | None) -> float | None:
        """The run's value, or None when result.json does not know it (tolerant of any shape)."""
        node: object = doc
        for part in self.path:
            if not isinstance(node, Mapping):
                return None
            node = node.get(part)
        return as_float(node)

    def shown(self, value: object) -> str:
        return metric_value(self.metric, value)

    def shown_change(self, amount: float) -> str:
        """A difference of two values: a ratio's in percentage points, anything else in the metric's unit."""
        return points(amount) if self.spec.unit == "ratio" else metric_value(self.metric, amount)


def points(ratio: float) -> str:
    """A difference of two ratios in percentage points: 0.0126 -> '1.26 points', 0.01 -> '1 point'."""
    text = f"{ratio * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text} point" + ("" if text in ("1", "-1") else "s")


def _headline(metric: str, label: str, *path: str) -> KeyNumber:
    return KeyNumber(metric, label, metric, ("availability",) + path)


KEY_NUMBERS: tuple[KeyNumber, ...] = (
    _headline("success_ratio", "success ratio", "success_ratio"),
    _headline("longest_outage_s", "longest outage", "longest_outage_s"),
    _headline("failover_s", "failover", "failover_s"),
    _headline("detection_s", "detection", "detection_s"),
    _headline("recovery_s", "recovery", "recovery_s"),
    _headline("latency_p50_ms", "latency p50", "latency_ms", "p50"),
    _headline("latency_p95_ms", "latency p95", "latency_ms", "p95"),
    _headline("latency_p99_ms", "latency p99", "latency_ms", "p99"),
    *(KeyNumber(f"latency_p99_ms@{p}", f"latency p99, {p.replace('_', ' ')}", "latency_p99_ms",
                ("availability", "per_phase", p, "latency_ms", "p99"), phase=p, gated=False) for p in _FAULT_PHASES),
    _headline("error_budget_burn", "error budget spent", "error_budget", "burn"),
    *(KeyNumber(m, m.replace("_", " "), m, ("audit", m)) for m in (
        "lost", "unexpected", "duplicated", "oversold", "sold_over_capacity", "credential_changes_lost",
        "revoked_sessions_working")),
    KeyNumber("rto_s", "RTO", "rto_s", ("disaster_recovery", "rto_s")),
    KeyNumber("rpo_s", "RPO", "rpo_s", ("disaster_recovery", "rpo_s")),
    KeyNumber("rpo_ops", "lost by the restore", "rpo_ops", ("disaster_recovery", "rpo_ops", "all")),
    KeyNumber("lost_after_recovery", "lost after recovery", "lost_after_recovery",
              ("disaster_recovery", "lost_after_recovery", "all")),
    KeyNumber("resold_seats", "seats sold twice across a restore", "resold_seats",
              ("disaster_recovery", "resold_seats")),
)
BY_KEY: dict[str, KeyNumber] = {k.key: k for k in KEY_NUMBERS}
if len(BY_KEY) != len(KEY_NUMBERS):
    raise ValueError("a key number is declared twice")
# A budget metric names the one gated key number about it (`--tolerance failover_s=3`).
GATED: dict[str, KeyNumber] = {k.metric: k for k in KEY_NUMBERS if k.gated}


@dataclass(frozen=True)
class Tolerance:
    """How much worse than the baseline a number may get before the gate calls it a regression: the larger
    of `absolute` (in the metric's unit) and `relative` (a fraction of the baseline)."""

    absolute: float = 0.0
    relative: float = 0.0

    def allowed(self, baseline: float) -> float:
        return max(self.absolute, self.relative * abs(baseline))

    def text(self, metric: str) -> str:
        absolute = (points(self.absolute) if METRICS[metric].unit == "ratio"
                    else metric_value(metric, self.absolute))
        parts = ([absolute] if self.absolute or not self.relative else []) + (
            [f"{self.relative * 100:g} % of the baseline"] if self.relative else [])
        return " or ".join(parts)


# The defaults, per unit: a count (lost, oversold, ...) may not grow at all; a ratio may drop by one
# percentage point; a time may grow by its run-to-run noise (a 15 s failover moves by a second or two).
TOLERANCE_BY_UNIT: dict[Unit, Tolerance] = {
    "count": Tolerance(0.0),
    "ratio": Tolerance(0.01),
    "seconds": Tolerance(2.0, 0.20),
    "ms": Tolerance(50.0, 0.25),
    "burn": Tolerance(0.05, 0.20),
}


def default_tolerance(metric: str) -> Tolerance:
    return TOLERANCE_BY_UNIT[METRICS[metric].unit]


def worse_by(key: KeyNumber, baseline: float, value: float) -> float:
    """How much worse `value` is than `baseline`, in the metric's unit (negative: better)."""
    return baseline - value if key.higher_is_better else value - baseline
