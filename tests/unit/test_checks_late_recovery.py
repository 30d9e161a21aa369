"""A heal that outlasts the steady phase (a restore) delays the recovery phase: the checks judge the recovery
phase the drill wrote, the seconds between steady and it belong to no phase, and the result says so."""

from __future__ import annotations

from pathlib import Path

from drills.checks.window import recovery_delay_notes
from drills.scenario.model import Budget
from tests.unit.test_checks_builder import Run, at


def late_run(root: Path) -> Run:
    """Steady ends at 50 s, a restore heals at 62 s, the recovery phase runs 62-72 s; purchases fail while the
    database is being restored (50-62 s) and succeed otherwise."""
    run = Run(root, duration=72.0, phases=(10.0, 40.0))
    run.events.append({"t": at(62.0), "kind": "phase", "name": "recovery", "start_s": 62.0, "end_s": 72.0})
    run.events.append({"t": at(62.0), "kind": "run", "name": "recovery_delayed", "by_s": 12.0,
                       "reason": "heals still running at the end of the steady phase"})
    run.fault("lose-cluster", 30.0, 62.0, type="cluster_loss", target={"service": "postgres"})
    run.stream(end=30.0, every=0.1)
    run.stream(start=30.0, end=62.0, every=0.1, outcome=lambda t: "fail")
    run.stream(start=62.0, end=72.0, every=0.1)
    run.final_from_history()
    return run


def test_the_recovery_phase_is_the_one_the_drill_wrote(tmp_path: Path) -> None:
    result = late_run(tmp_path / "run").judge(Budget("success_ratio", min=0.99, phase="recovery"))
    assert result["availability"]["phases"]["recovery"][0][0] == 62.0
    assert result["availability"]["phases"]["steady"][0][1] == 50.0
    (budget,) = result["budgets"]
    assert budget["observed"] == 1.0 and budget["passed"], budget   # the restore's failures are not recovery's


def test_the_result_notes_the_late_start(tmp_path: Path) -> None:
    result = late_run(tmp_path / "run").judge()
    assert "the recovery phase started 12.0 s after the end of steady: heals were still running (those seconds " \
           "belong to no phase)" in result["notes"]


def test_only_a_well_formed_delay_line_makes_a_note() -> None:
    assert recovery_delay_notes([{"kind": "run", "name": "recovery_delayed", "by_s": "12"},
                                 {"kind": "run", "name": "recovery_delayed"},
                                 {"kind": "phase", "name": "recovery_delayed", "by_s": 3.0}]) == []
    assert recovery_delay_notes([{"kind": "run", "name": "recovery_delayed", "by_s": 0.75}]) == [
        "the recovery phase started 0.8 s after the end of steady: heals were still running (those seconds "
        "belong to no phase)"]
