"""The numbers a run exports to Prometheus (a node_exporter textfile, a Pushgateway), each declared once.

A row names the sample as Prometheus scrapes it, its type, its help and where in result.json its value comes
from; the writer (drills/report/openmetrics.py) and the table in docs/dashboards.md (`python -m
drills.checks.regenerate --write`) are derived from these rows. Rows that export a budget metric take their
meaning from the budget metric registry (drills/scenario/metrics.py), so a dashboard's tooltip and a budget say
the same thing. Prometheus conventions: base units (seconds, ratios), counts as counters ending in `_total`,
every sample labelled `scenario` and `run_id`. A number the result does not know (null) is left out, never
written as 0: "unknown" on a dashboard must not look like "no data lost".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from drills.scenario.metrics import METRICS

# Every sample carries these, in this order (the Pushgateway groups by `scenario`).
BASE_LABELS = ("scenario", "run_id")
VERDICT_STATES = ("pass", "fail", "aborted", "error", "inconclusive")
QUANTILES = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))

Sample = tuple[tuple[str, ...], float]          # extra label values (after BASE_LABELS), value
Sampler = Callable[[Mapping[str, Any]], Iterable[Sample]]


@dataclass(frozen=True)
class Exported:
    """One exported family: `name` as scraped (a counter's ends in `_total`)."""

    name: str
    type: Literal["gauge", "counter"]
    help: str
    source: str                       # where in result.json, for the docs table
    samples: Sampler
    labels: tuple[str, ...] = ()      # besides BASE_LABELS
    covers: tuple[str, ...] = ()      # the budget metrics (drills/scenario/metrics.py) it exports

    @property
    def family(self) -> str:
        """The family name prometheus_client wants (a counter's without `_total`)."""
        return self.name.removesuffix("_total") if self.type == "counter" else self.name


def number(doc: Mapping[str, Any], path: str) -> float | None:
    """The number at a dotted `path` of the result, or None (absent, null, not a number, a bool)."""
    value: Any = doc
    for key in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN: unknown too
        return None
    return float(value)


def _at(path: str, scale: float = 1.0) -> Sampler:
    def samples(doc: Mapping[str, Any]) -> Iterable[Sample]:
        value = number(doc, path)
        return [] if value is None else [((), value * scale)]
    return samples


def _headline_op(path: str, scale: float = 1.0) -> Sampler:
    """A headline availability number, labelled with the op it is about (availability.op)."""
    def samples(doc: Mapping[str, Any]) -> Iterable[Sample]:
        value = number(doc, path)
        op = (doc.get("availability") or {}).get("op")
        return [] if value is None else [((str(op or "all"),), value * scale)]
    return samples


def _verdict(doc: Mapping[str, Any]) -> Iterable[Sample]:
    verdict = doc.get("verdict")
    return [((state,), 1.0 if state == verdict else 0.0) for state in VERDICT_STATES] if verdict else []


def _expectation(doc: Mapping[str, Any]) -> Iterable[Sample]:
    met = doc.get("self_test_passed")
    return [((), 1.0 if met else 0.0)] if isinstance(met, bool) else []


def _latency(doc: Mapping[str, Any]) -> Iterable[Sample]:
    op = str((doc.get("availability") or {}).get("op") or "all")
    out = []
    for quantile, key in QUANTILES:
        value = number(doc, f"availability.latency_ms.{key}")
        if value is not None:
            out.append(((op, quantile), value / 1000.0))
    return out


def _operations(doc: Mapping[str, Any]) -> Iterable[Sample]:
    per_op = (doc.get("availability") or {}).get("per_op") or {}
    out = []
    for op, row in per_op.items():
        if op == "all" or not isinstance(row, Mapping):
            continue
        for outcome in ("ok", "fail", "info"):
            value = number(row, outcome)
            if value is not None:
                out.append(((str(op), outcome), value))
    return out


def _budgets(doc: Mapping[str, Any]) -> Iterable[Sample]:
    out = []
    for row in doc.get("budgets") or []:
        if isinstance(row, Mapping) and isinstance(row.get("passed"), bool):
            out.append(((str(row.get("name")), str(row.get("metric"))), 1.0 if row["passed"] else 0.0))
    return out


def _faults(doc: Mapping[str, Any]) -> Iterable[Sample]:
    rows = [f for f in doc.get("faults") or [] if isinstance(f, Mapping)]
    return [((), float(sum(1 for f in rows if number(f, "injected_s") is not None)))]


def _budget_metric(name: str, metric: str, source: str, sampler: Sampler, labels: tuple[str, ...] = ()) -> Exported:
    """A row that exports a budget metric: its help is the registry's meaning of `metric`."""
    spec = METRICS[metric]
    kind: Literal["gauge", "counter"] = "counter" if spec.unit == "count" else "gauge"
    return Exported(name, kind, f"{spec.meaning} (budget metric {metric})", source, sampler, labels, (metric,))


def _time_to_fire(doc: Mapping[str, Any]) -> Iterable[Sample]:
    """The slowest time to fire of each expected alert over the run's injections (unknown ones left out)."""
    worst: dict[str, float] = {}
    for row in (doc.get("alerting") or {}).get("expected") or []:
        value = number(row, "time_to_fire_s") if isinstance(row, Mapping) else None
        if value is not None:
            alert = str(row.get("alert"))
            worst[alert] = max(value, worst.get(alert, value))
    return [((alert,), value) for alert, value in sorted(worst.items())]


def _zone_gaps(doc: Mapping[str, Any]) -> Iterable[Sample]:
    """Each zone's longest gap in serving outside its own faults (runs with zones only)."""
    rows = (doc.get("zones") or {}).get("zones") or []
    return [((str(row.get("zone")),), value) for row in rows
            if isinstance(row, Mapping) and (value := number(row, "longest_gap_s")) is not None]


_ROWS: tuple[Exported, ...] = (
    Exported("drills_verdict", "gauge", "1 for the run's verdict, 0 for the other verdicts", "verdict", _verdict,
             ("verdict",)),
    Exported("drills_expectation_met", "gauge",
             "1 when the verdict is what the scenario expected (`expect`), else 0", "self_test_passed",
             _expectation),
    Exported("drills_run_started_timestamp_seconds", "gauge", "when the run started (UNIX epoch seconds)",
             "started", _at("started")),
    Exported("drills_load_duration_seconds", "gauge", "length of the load window", "duration_s",
             _at("duration_s")),
    _budget_metric("drills_success_ratio", "success_ratio", "availability.success_ratio",
                   _headline_op("availability.success_ratio"), ("op",)),
    _budget_metric("drills_longest_outage_seconds", "longest_outage_s", "availability.longest_outage_s",
                   _headline_op("availability.longest_outage_s"), ("op",)),
    _budget_metric("drills_recovery_seconds", "recovery_s", "availability.recovery_s",
                   _headline_op("availability.recovery_s"), ("op",)),
    _budget_metric("drills_failover_seconds", "failover_s", "availability.failover_s",
                   _at("availability.failover_s")),
    _budget_metric("drills_detection_seconds", "detection_s", "availability.detection_s",
                   _at("availability.detection_s")),
    Exported("drills_latency_seconds", "gauge", "latency of acknowledged operations at a quantile (p50, p95, p99)",
             "availability.latency_ms.p50 / p95 / p99 (÷ 1000)", _latency, ("op", "quantile"),
             ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")),
    _budget_metric("drills_error_budget_burn", "error_budget_burn", "availability.error_budget.burn",
                   _at("availability.error_budget.burn")),
    Exported("drills_operations_total", "counter", "client operations by op and outcome (ok, fail, info)",
             "availability.per_op.OP.ok / fail / info", _operations, ("op", "outcome")),
    _budget_metric("drills_lost_acknowledged_total", "lost", "audit.lost", _at("audit.lost")),
    _budget_metric("drills_unexpected_total", "unexpected", "audit.unexpected", _at("audit.unexpected")),
    _budget_metric("drills_duplicated_total", "duplicated", "audit.duplicated", _at("audit.duplicated")),
    _budget_metric("drills_oversold_total", "oversold", "audit.oversold", _at("audit.oversold")),
    _budget_metric("drills_sold_over_capacity_total", "sold_over_capacity", "audit.sold_over_capacity",
                   _at("audit.sold_over_capacity")),
    _budget_metric("drills_credential_changes_lost_total", "credential_changes_lost",
                   "audit.credential_changes_lost", _at("audit.credential_changes_lost")),
    _budget_metric("drills_revoked_sessions_working_total", "revoked_sessions_working",
                   "audit.revoked_sessions_working", _at("audit.revoked_sessions_working")),
    _budget_metric("drills_unique_violations_total", "unique_violations", "audit.unique_violations",
                   _at("audit.unique_violations")),
    _budget_metric("drills_counter_mismatch_total", "counter_mismatch", "audit.counter_mismatch",
                   _at("audit.counter_mismatch")),
    Exported("drills_anomalies_total", "counter", "the audit's known data-loss counts added up", "audit.anomalies",
             _at("audit.anomalies")),
    Exported("drills_indeterminate_total", "counter",
             "operations whose outcome the client could not know (timeouts, lost connections)",
             "audit.indeterminate", _at("audit.indeterminate")),
    Exported("drills_budget_passed", "gauge", "1 when the budget held, 0 when it failed (unknown: no sample)",
             "budgets[].passed", _budgets, ("budget", "metric")),
    Exported("drills_faults_injected_total", "counter", "fault injections that took effect",
             "faults[] with injected_s", _faults),
    _budget_metric("drills_rto_seconds", "rto_s", "disaster_recovery.rto_s", _at("disaster_recovery.rto_s")),
    _budget_metric("drills_rpo_seconds", "rpo_s", "disaster_recovery.rpo_s", _at("disaster_recovery.rpo_s")),
    _budget_metric("drills_time_to_fire_seconds", "time_to_fire_s", "alerting.expected[].time_to_fire_s (the "
                   "slowest per alert)", _time_to_fire, ("alert",)),
    _budget_metric("drills_zone_served_gap_seconds", "zone_served_gap_s", "zones.zones[].longest_gap_s (per zone)",
                   _zone_gaps, ("zone",)),
)

# Budget metrics deliberately not exported, and why (a test keeps every metric either exported or here).
NOT_EXPORTED: dict[str, str] = {
    "rpo_ops": "by op; drills_lost_acknowledged_total is the dashboard's number",
    "lost_after_recovery": "by op, and normally 0; drills_lost_acknowledged_total counts every loss",
    "resold_seats": "a disaster-recovery detail; drills_anomalies_total adds up the data-loss counts",
    "max_inject_delay_ms": "the harness's own lag, not the system's behaviour",
    "time_to_resolve_s": "per alert and injection: follows once the alerting section has settled",
    "missed_alerts": "per alert and injection: follows once the alerting section has settled",
    "false_alarms": "per alert: follows once the alerting section has settled",
    "alert_flaps": "per alert: follows once the alerting section has settled",
}

EXPORTED: dict[str, Exported] = {row.name: row for row in _ROWS}
if len(EXPORTED) != len(_ROWS):
    raise ValueError("an exported metric is declared twice")


def samples_of(result: Mapping[str, Any]) -> dict[str, list[Sample]]:
    """Every exported family's samples for one result (families with none are left out)."""
    out = {}
    for row in _ROWS:
        rows = list(row.samples(result))
        if rows:
            out[row.name] = rows
    return out


# the docs table ---------------------------------------------------------------------------------------------------

COMMAND = "python -m drills.checks.regenerate --write"
_BEGIN = f"<!-- BEGIN GENERATED from drills/checks/exported.py by `{COMMAND}`: do not edit by hand -->"
_END = "<!-- END GENERATED exported metrics -->"
_TABLE = re.compile(r"^<!-- BEGIN GENERATED from drills/checks/exported\.py.*?^" + re.escape(_END) + "$", re.M | re.S)


def exported_table() -> str:
    """The Markdown table of every exported metric, with its markers."""
    rows = [_BEGIN, "| metric | type | labels | from result.json | meaning |", "|---|---|---|---|---|"]
    for row in _ROWS:
        labels = ", ".join(f"`{label}`" for label in (*BASE_LABELS, *row.labels))
        text = row.help.replace("|", "\\|")
        rows.append(f"| `{row.name}` | {row.type} | {labels} | `{row.source}` | {text} |")
    return "\n".join(rows + [_END])


class ExportedMarkersMissing(ValueError):
    """The docs page lost the markers its generated table sits between: put them back."""


def with_exported_table(doc: str) -> str:
    """`doc` with its generated table of exported metrics replaced by the rows above."""
    if not _TABLE.search(doc):
        raise ExportedMarkersMissing("no BEGIN/END GENERATED exported metrics markers")
    return _TABLE.sub(lambda _: exported_table(), doc, count=1)
