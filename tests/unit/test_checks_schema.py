"""Every result.json the checks produce validates against drills/checks/result.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from drills.checks import judge, write_result
from drills.scenario.metrics import METRICS
from drills.scenario.model import Budget
from tests.unit.test_checks_builder import Run, at, scenario

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "drills/checks/result.schema.json").read_text())
ALL_BUDGETS = [Budget("success_ratio", min=0.9), Budget("longest_outage_s", max=5, phase="during_fault"),
               Budget("recovery_s", max=10), Budget("latency_p50_ms", max=100), Budget("latency_p95_ms", max=100),
               Budget("latency_p99_ms", max=100, phase="steady"), Budget("failover_s", max=10),
               Budget("detection_s", max=5), Budget("lost", max=0), Budget("unexpected", max=0),
               Budget("duplicated", max=0), Budget("oversold", max=0), Budget("sold_over_capacity", max=0),
               Budget("credential_changes_lost", max=0), Budget("revoked_sessions_working", max=0),
               Budget("error_budget_burn", max=1.0, op="all", phase="after_heal")]
# ... and one on every other metric of the registry (the disaster-recovery ones, any added since)
ALL_BUDGETS += [Budget(name, **{spec.bound: 0.0}, op=spec.ops[0] if spec.ops else "purchase")
                for name, spec in METRICS.items() if name not in {b.metric for b in ALL_BUDGETS}]


def validate(result: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(result), key=lambda e: e.json_path)
    assert not errors, "\n".join(f"{e.json_path}: {e.message}" for e in errors[:10])


def eventful_run(root: Path) -> Run:
    run = Run(root)
    run.stream(every=0.1, outcome=lambda t: "info" if 30 <= t < 34 else "ok")
    run.stream("browse", every=0.5)
    run.rotate("alice", "ok", 5.0, version=2)
    run.fault("kill-leader", 30.0, 45.0)
    for k in range(120):
        t = k * 0.5
        run.probe(t, "pg1" if t < 30 else (None if t < 33 else "pg2"),
                  **({"pg1": {"container": "exited", "role": "unknown", "lb": "DOWN"}} if 30 <= t < 45 else {}))
    for sec in range(60):
        run.stat(sec + 0.5)
    state = run.final_from_history(applied=("key-301",))
    Run.add_order(state, "ghost", 1, [1], at(2.0))
    return run


def test_eventful_run_validates(tmp_path: Path) -> None:
    result = eventful_run(tmp_path / "run").judge(*ALL_BUDGETS)
    validate(result)
    assert result["verdict"] == "fail"  # the ghost order is unexpected
    path = write_result(tmp_path / "run", result)
    assert json.loads(path.read_text()) == result


@pytest.mark.parametrize("expect", ["pass", "fail"])
def test_clean_run_validates(tmp_path: Path, expect: str) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.2)
    run.final_from_history()
    validate(run.judge(Budget("lost", max=0), expect=expect))


def test_crashed_and_empty_runs_validate(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=3.0)
    run.events.append({"t": at(3.0), "kind": "error", "where": "load", "message": "boom"})
    crashed = run.judge(*ALL_BUDGETS, truncate_last="history.jsonl", stopped=False)
    validate(crashed)
    assert crashed["verdict"] == "error"
    (tmp_path / "empty").mkdir()
    empty = judge(tmp_path / "empty", scenario(*ALL_BUDGETS))
    validate(empty)
    assert empty["verdict"] == "error" and "history*.jsonl" in empty["missing_files"]
