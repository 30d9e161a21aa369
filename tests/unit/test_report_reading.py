"""The report reads the checks' result: the timeline adapter is only a change of shape, stored results are read
back through the model (completed when older, judged when missing or damaged), and the words for numbers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drills.checks import stored
from drills.checks.result_model import read_result
from drills.report import timeline as tl
from drills.report.fmt import duration, limit_text, num, percent, when
from drills.report.headline import describe
from tests.unit.test_checks_builder import Run, at

T0 = 1764150000.0
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"


def test_fault_intervals_are_the_results_faults_per_iteration(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.5)
    for it, at_s in enumerate((10, 30)):
        run.fault("flip", at_s, type="isolate", target={"service": "pg2", "role": "leader"}, iteration=it)
    run.events.append({"t": at(15), "kind": "fault", "phase": "heal", "fault_id": "flip", "iteration": 0,
                       "ok": False, "error": "iptables: busy"})
    result = run.judge()
    faults = tl.fault_intervals(result)
    assert [(f.key, f.start_s, f.end_s) for f in faults] == [("flip-0", 10.0, 15.0), ("flip-1", 30.0, None)]
    assert faults[0].target == "pg2 (leader)" and faults[0].row["heal_ok"] is False
    assert faults[0].row["duration_s"] == 5.0 and faults[1].row["duration_s"] is None


def test_phases_and_outages_come_from_the_result(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.1, outcome=lambda t: "fail" if 20 <= t < 25 else "ok")
    result = run.judge()
    assert [(p.name, p.start_s, p.end_s) for p in tl.phases(result)] == [
        ("warmup", 0.0, 10.0), ("steady", 10.0, 50.0), ("recovery", 50.0, 60.0)]
    (outage,) = tl.outages(result)
    assert (outage.op, outage.start_s, outage.end_s, outage.open) == ("purchase", 20.0, 25.01, False)


def test_node_roles_are_ordered_databases_first(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.5)
    for k in range(10):
        run.probe(k * 0.5, "pg1", etcd1={"container": "running", "role": "etcd"},
                  haproxy={"container": "running", "role": "lb"}, api10={"container": "running", "role": "api"})
    assert list(tl.roles(run.judge())) == ["pg1", "pg2", "api1", "api10", "haproxy", "etcd1"]


def test_a_stored_result_is_read_back_through_the_model(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "pass", tmp_path / "run")
    found = stored.load(tmp_path / "run")
    assert found.origin == "recorded" and found.notes == []
    assert found.result == json.loads((tmp_path / "run" / "result.json").read_text())


def test_damaged_parts_of_a_result_are_left_out_and_named(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "pass", tmp_path / "run")
    path = tmp_path / "run" / "result.json"
    doc = json.loads(path.read_text())
    doc["availability"]["series"][3]["ok"] = "two"
    doc["availability"]["success_ratio"] = "high"
    doc["faults"].append(None)
    doc["mystery"] = 1
    path.write_text(json.dumps(doc))
    found = stored.load(tmp_path / "run")
    assert found.origin == "recorded" and found.result["verdict"] == "pass"
    assert len(found.result["availability"]["series"]) == len(doc["availability"]["series"]) - 1
    assert found.result["availability"]["success_ratio"] is None and "mystery" not in found.result
    assert any("availability.series: 1 of" in n and "'two' where a whole number belongs" in n for n in found.notes)
    assert any(n.startswith("result.json: availability.success_ratio") and "read as null" in n for n in found.notes)


def test_a_result_without_its_skeleton_is_judged_again(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "fail", tmp_path / "run")
    path = tmp_path / "run" / "result.json"
    recorded = json.loads(path.read_text())
    path.write_text(json.dumps({"verdict": "fail", "budgets": "lost"}))
    found = stored.load(tmp_path / "run")
    assert found.origin == "judged" and "could not be read as a result" in found.notes[0]
    assert found.result["verdict"] == recorded["verdict"]
    assert json.loads(path.read_text()) == {"verdict": "fail", "budgets": "lost"}  # evidence is never overwritten


def test_a_format_1_result_is_completed_not_judged_again(tmp_path: Path) -> None:
    """A result.json from before the model: the verdict stays as recorded (here: altered to prove it), the
    parts format 2 added come from the run directory."""
    shutil.copytree(FIXTURES / "pass", tmp_path / "run")
    path = tmp_path / "run" / "result.json"
    current = json.loads(path.read_text())
    old = json.loads(path.read_text())
    old.update(format=1, verdict="inconclusive", verdict_reasons=["recorded by an older drills"])
    for key in ("description", "rerun_command", "cluster"):
        del old[key]
    del old["generator"]["series"], old["audit"]["anomalies"]
    for f in old["faults"]:
        del f["late_ms"], f["duration_s"]
    path.write_text(json.dumps(old))
    found = stored.load(tmp_path / "run")
    assert found.origin == "completed" and "format 1" in found.notes[0]
    r = found.result
    assert r["verdict"] == "inconclusive" and r["verdict_reasons"] == ["recorded by an older drills"]
    for key in ("description", "rerun_command", "cluster", "faults", "generator", "audit"):
        assert r[key] == current[key], key  # type: ignore[literal-required]


def test_read_result_rejects_what_is_not_a_result() -> None:
    assert read_result([1, 2])[0] is None and read_result({})[0] is None
    result, notes = read_result({"verdict": "pass"})
    assert result is None and notes[-1] == "format: missing"


def test_formatting() -> None:
    assert num(None) == "—" and num(3.0, "s") == "3 s" and num(12.34, "s") == "12.3 s" and num(0.5) == "0.5"
    assert percent(0.99996) == "99.996 %" and percent(1) == "100 %" and percent(0.75) == "75 %"
    assert duration(42) == "42 s" and duration(185) == "3 min 05 s"
    assert when(T0) == "2025-11-26 09:40:00 UTC" and when(None) == "—"
    assert limit_text({"metric": "success_ratio", "limit": {"min": 0.999, "max": None}}) == "≥ 99.90 %"
    assert limit_text({"metric": "recovery_s", "limit": {"min": 1, "max": 5}}) == "≥ 1 s and ≤ 5 s"
    assert limit_text({"metric": "lost", "limit": {"min": None, "max": 0}}) == "≤ 0"


@pytest.mark.parametrize("stamp", ["2025-11-26T09:40:05+00:00", "soon"])
def test_a_moment_is_an_epoch_number_only(stamp: str) -> None:
    assert when(stamp) == "—"  # no guessing at formats: the result model types every stamp


def test_verdicts_for_a_reader() -> None:
    assert describe({"verdict": "pass"}).title == "PASS"
    assert describe({"verdict": "fail", "expected": "fail"}).ok
    assert not describe({"verdict": "fail", "expected": "fail", "self_test_passed": False}).ok
    v = describe({"verdict": "pass", "expected": "fail"})
    assert v.css == "fail" and "SELF-TEST FAILED" in v.title
    assert describe(None).verdict == "none" and describe({"verdict": "weird"}).css == "error"
    assert describe({"verdict": "inconclusive"}).css == "inconclusive"
