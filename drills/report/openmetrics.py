"""A run's result as Prometheus metrics: a textfile for node_exporter's textfile collector, or a Pushgateway push.

The families and their values come from one table (drills/checks/exported.py); prometheus_client writes the
exposition, so escaping, `_total` suffixes and the text format are the library's, not ours. Pushing needs HTTP,
which this layer does not do: the caller hands in the `handler` that sends it (drills/runner/publish.py sends
directly, never through a proxy from the environment).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, push_to_gateway, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from drills.checks.exported import BASE_LABELS, EXPORTED

JOB = "drills"   # the Pushgateway's job label; grouped further by scenario (a new run replaces the last one)


class ResultCollector(Collector):
    """The exported families of one result, labelled with its scenario and run id."""

    def __init__(self, result: Mapping[str, Any], run_id: str) -> None:
        self.result = result
        self.base = (str(result.get("scenario") or "unknown"), run_id)

    def collect(self) -> Iterator[Metric]:
        for row in EXPORTED.values():
            labels = [*BASE_LABELS, *row.labels]
            family: Metric = (CounterMetricFamily(row.family, row.help, labels=labels) if row.type == "counter"
                              else GaugeMetricFamily(row.family, row.help, labels=labels))
            for extra, value in row.samples(self.result):
                family.add_metric([*self.base, *extra], value)   # type: ignore[attr-defined]
            if family.samples:
                yield family


def registry_of(result: Mapping[str, Any], run_id: str) -> CollectorRegistry:
    """A registry holding only this run's families (never the process's own default metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ResultCollector(result, run_id))
    return registry


def exposition(result: Mapping[str, Any], run_id: str) -> bytes:
    """The Prometheus text exposition of the run's families."""
    return generate_latest(registry_of(result, run_id))


def write_textfile(path: Path, result: Mapping[str, Any], run_id: str) -> None:
    """Write the families to `path` for node_exporter, atomically: prometheus_client writes a temporary file in
    the same directory and renames it, so the collector never reads half a file. OSError when it cannot."""
    write_to_textfile(str(path), registry_of(result, run_id))


Handler = Callable[[str, str, float | None, list[tuple[str, str]], bytes], Callable[[], None]]


def push(gateway: str, result: Mapping[str, Any], run_id: str, handler: Handler, timeout: float = 10.0) -> None:
    """PUT the families to a Pushgateway under job `drills` and the run's scenario (replacing that scenario's
    previous run there). Whatever `handler` raises (OSError for a refusal or no answer) is the caller's."""
    scenario = str(result.get("scenario") or "unknown")
    push_to_gateway(gateway, job=JOB, registry=registry_of(result, run_id), grouping_key={"scenario": scenario},
                    timeout=timeout, handler=handler)
