"""The budget metric registry: one row per metric (drills/scenario/metrics.py), one observer per row
(drills/checks/observers.py), and the files derived from the rows kept fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.checks import regenerate
from drills.checks.observers import OBSERVERS
from drills.report.fmt import HIGHER_IS_BETTER, limit_text, meaning, metric_value, unit_of
from drills.scenario.metrics import METRICS, MetricSpec
from drills.scenario.model import BUDGET_METRICS, Budget
from tests.unit.test_checks_builder import Run, at
from tests.unit.test_checks_recovery import destroyed_and_restored
from tests.unit.test_checks_schema import SCHEMA, validate
from tests.unit.test_scenario_validate import issues


def budget_on(spec: MetricSpec) -> Budget:
    """A budget every metric accepts (any op it counts, phase all), loose enough to hold on a healthy run."""
    limit = {"min": 0.0} if spec.bound == "min" else {"max": 1e9}
    return Budget(spec.name, **limit, op=spec.ops[0] if spec.ops else "purchase")


# the registry and its observers ------------------------------------------------------------------------------------

def test_every_metric_has_exactly_one_observer() -> None:
    assert set(OBSERVERS) == set(METRICS)
    assert BUDGET_METRICS == tuple(METRICS)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_row_is_complete_and_its_name_says_its_unit(name: str) -> None:
    spec = METRICS[name]
    assert spec.meaning and "\n" not in spec.meaning and spec.kind in ("availability", "data_safety", "alerting")
    # compare and older readers guess the unit from the suffix: the name must agree with the row
    suffix = {"seconds": "_s", "ms": "_ms", "ratio": "_ratio"}.get(spec.unit)
    if suffix:
        assert name.endswith(suffix)
    assert not name.endswith(("_s", "_ms", "_ratio")) or suffix


def test_derived_files_are_fresh() -> None:
    stale = regenerate.stale()
    assert not stale, (f"stale: {', '.join(str(p.relative_to(regenerate.ROOT)) for p in stale)}; "
                       f"run `{regenerate.COMMAND}`")


def test_generated_parts_keep_their_markers() -> None:
    with pytest.raises(regenerate.StaleMarkersError):
        regenerate.with_metric_table("# a doc without its table\n")
    with pytest.raises(regenerate.StaleMarkersError):
        regenerate.with_metric_enum('{"$defs": {}}\n')
    table = regenerate.metric_table()
    assert all(f"| `{name}` |" in table for name in METRICS)
    doc = f"before\n\n{table}\n\nafter\n"
    assert regenerate.with_metric_table(doc) == doc


def test_result_schema_lists_every_metric() -> None:
    assert SCHEMA["$defs"]["budgetMetric"]["enum"] == list(METRICS)


def test_a_result_with_a_budget_on_every_metric_validates(tmp_path: Path) -> None:
    """A disaster run (so the recovery metrics have values) judged on every metric; resold_seats, a DR
    metric, was once missing from the schema."""
    run = destroyed_and_restored(tmp_path / "run")
    result = run.judge(*(budget_on(spec) for spec in METRICS.values()))
    validate(result)
    observed = {b["metric"]: b for b in result["budgets"]}
    assert set(observed) == set(METRICS)
    assert not [b for b in result["budgets"] if "unknown metric" in b["detail"]]
    assert observed["resold_seats"]["observed"] == 1


# the report reads units and directions from the rows ------------------------------------------------------------

def test_report_units_and_directions_come_from_the_registry() -> None:
    assert HIGHER_IS_BETTER == {name for name, spec in METRICS.items() if spec.bound == "min"}
    assert unit_of("rto_s") == "s" and unit_of("latency_p99_ms") == "ms" and unit_of("resold_seats") == ""
    assert unit_of("error_budget_burn") == "" and metric_value("success_ratio", 0.5) == "50 %"
    assert unit_of("duration_s") == "s"  # not a metric: from its name
    assert limit_text({"metric": "max_inject_delay_ms", "limit": {"min": None, "max": 250}}) == "≤ 250 ms"
    assert meaning("lost") == METRICS["lost"].meaning and meaning("acknowledged") == ""


# max_inject_delay_ms: added through the registry (a row, an observer, the regenerated files) ------------------

def inject_line(fault_id: str, scheduled: float, started: float | None, iteration: int = 0) -> dict:
    line = {"t": at(started if started is not None else scheduled), "kind": "fault", "phase": "inject",
            "fault_id": fault_id, "type": "kill", "target": None, "link": None, "params": {}, "scheduled_s": scheduled,
            "offset_s": (started if started is not None else scheduled) + 0.2, "ok": True, "error": None,
            "iteration": iteration}
    if started is not None:
        line["started_s"] = started
    return line


def delay_budget(run: Run, limit: float = 250) -> dict:
    run.stream(every=0.5)
    run.final_from_history()
    (b,) = run.judge(Budget("max_inject_delay_ms", max=limit))["budgets"]
    return b


def test_inject_delay_is_the_worst_start_against_the_schedule(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.events += [inject_line("kill-leader", 20.0, 20.004), inject_line("flap", 25.0, 25.7, iteration=2),
                   inject_line("flap", 30.0, 30.001, iteration=3)]
    b = delay_budget(run)
    assert (b["observed"], b["passed"]) == (700.0, False)
    assert "flap #2 started 700.0 ms after its scheduled 25.0 s (worst of 3 injections)" == b["detail"]


def test_inject_delay_counts_the_start_not_the_injection_itself(tmp_path: Path) -> None:
    """A restore runs for minutes and a `docker stop` waits its grace period: that is the fault, not lateness."""
    run = Run(tmp_path / "run")
    line = inject_line("restore", 30.0, 30.01)
    line["offset_s"] = 150.0
    run.events.append(line)
    b = delay_budget(run)
    assert (b["observed"], b["passed"]) == (10.0, True)


@pytest.mark.parametrize("lines, words", [
    ([], "no fault was injected"),
    ([inject_line("kill-leader", 20.0, None)], "older runner"),
])
def test_inject_delay_is_unknown_without_an_injection_start(tmp_path: Path, lines: list[dict], words: str) -> None:
    run = Run(tmp_path / "run")
    run.events += lines
    b = delay_budget(run)
    assert b["observed"] is None and b["passed"] is None and words in b["detail"]


def test_inject_delay_budgets_are_validated() -> None:
    assert issues({"name": "t", "budgets": [{"metric": "max_inject_delay_ms", "max": 500}]}) == []
    (found,) = issues({"name": "t", "budgets": [{"metric": "max_inject_delay_ms", "max": 500, "phase": "steady"}]})
    assert "phase all" in found
    (found,) = issues({"name": "t", "budgets": [{"metric": "max_inject_delay_ms", "min": 5}]})
    assert "expected max" in found
