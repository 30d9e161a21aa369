"""Every result.json the checks produce validates against drills/checks/result.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from drills.checks import judge, result_model, typed_json, write_result
from drills.checks.typed_json import required_keys
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


# the schema is the result model's, and the report fixtures are real results -------------------------------------

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"
JUDGED_FIXTURES = sorted(p.parent.name for p in FIXTURES.glob("*/result.json"))


def test_the_schema_is_generated_from_the_model_and_current() -> None:
    from drills.checks import regenerate

    assert regenerate.RESULT_SCHEMA.read_text(encoding="utf-8") == regenerate.result_schema(), (
        f"stale: run `{regenerate.COMMAND}`")
    assert SCHEMA["$comment"].startswith("GENERATED from drills/checks/result_model.py")
    assert set(SCHEMA["required"]) == set(required_keys(result_model.Result))
    assert "disaster_recovery" not in SCHEMA["required"] and "disaster_recovery" in SCHEMA["properties"]


def test_the_model_declares_every_key_the_checks_write(tmp_path: Path) -> None:
    """The schema is closed (additionalProperties false): a key the checks write and the model does not
    declare fails validation, so the eventful run above would catch it; this one checks the declaration side."""
    result = eventful_run(tmp_path / "run").judge(*ALL_BUDGETS)
    assert set(result) == set(typed_json.fields(result_model.Result)) - {"disaster_recovery", "alerting", "zones"}
    assert result["format"] == result_model.FORMAT
    read, notes = result_model.read_result(json.loads(json.dumps(result)))
    assert read == result and notes == []


def test_the_report_fixtures_are_judged_runs() -> None:
    assert JUDGED_FIXTURES == ["aborted", "fail", "pass"]
    assert not (FIXTURES / "crashed" / "result.json").exists()  # a crashed run: its report judges it


@pytest.mark.parametrize("kind", JUDGED_FIXTURES)
def test_every_fixture_result_validates(kind: str) -> None:
    validate(json.loads((FIXTURES / kind / "result.json").read_text()))


def test_the_fixtures_are_what_the_checks_make_of_their_files(tmp_path: Path) -> None:
    """Regenerated from their recorded files by tests/unit/fixtures/make_runs.py through the real checks; when the
    checks change what they write, run `python -m tests.unit.fixtures.make_runs`."""
    from tests.unit.fixtures.make_runs import KINDS, make_all

    make_all(tmp_path / "runs")
    for kind in KINDS:
        names = sorted(p.name for p in (FIXTURES / kind).iterdir())
        assert names == sorted(p.name for p in (tmp_path / "runs" / kind).iterdir()), kind
        for name in names:
            committed, fresh = (FIXTURES / kind / name).read_text(), (tmp_path / "runs" / kind / name).read_text()
            if name == "result.json":  # the checks' own timing differs from run to run
                committed_doc, fresh_doc = json.loads(committed), json.loads(fresh)
                committed_doc.pop("checks"), fresh_doc.pop("checks")
                assert committed_doc == fresh_doc, f"{kind}/{name} is stale: python -m tests.unit.fixtures.make_runs"
            else:
                assert committed == fresh, f"{kind}/{name} is stale: python -m tests.unit.fixtures.make_runs"
