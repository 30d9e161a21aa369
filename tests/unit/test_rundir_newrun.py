"""Runs never mix: unique run ids, a fresh directory per run, and a used or unusable --out refused up front."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from drills.cli import main
from drills.errors import ExitCode, UsageError
from drills.rundir import files
from drills.rundir.newrun import RUN_ID_MAX, RunDirError, check_out, new_run_dir, new_run_id

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "leader-kill.yaml"
DOCKER_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.mark.parametrize("name", ["leader-kill", "A Very Long Scenario Name With Spaces And Ünïcode " * 3,
                                  "---", "", "UPPER_case.name", "x" * 200])
def test_run_ids_are_short_lowercase_docker_names(name: str) -> None:
    run_id = new_run_id(name)
    assert len(run_id) <= RUN_ID_MAX and DOCKER_NAME.match(run_id) and "--" not in run_id, run_id


def test_run_id_format() -> None:
    run_id = new_run_id("Leader Kill", now=datetime(2025, 11, 26, 14, 15, 3, tzinfo=timezone.utc))
    assert re.fullmatch(r"leader-kill-20251126-141503-[a-z2-7]{8}", run_id), run_id


def test_the_same_scenario_in_the_same_second_gets_different_ids() -> None:
    now = datetime(2025, 11, 26, 14, 15, 3, tzinfo=timezone.utc)
    name = "a-scenario-name-long-enough-to-be-cut-at-forty-characters"
    assert len({new_run_id(name, now=now) for _ in range(2000)}) == 2000


def test_default_run_dirs_are_created_atomically_with_a_suffix(tmp_path: Path) -> None:
    made = [new_run_dir("same", None, tmp_path / "reports") for _ in range(3)]
    assert len(set(made)) == 3 and all(p.is_dir() and p.is_absolute() for p in made)
    assert sorted(p.name[-2:] for p in made)[:2] == ["-2", "-3"]


def test_a_new_or_empty_out_is_taken_and_claimed(tmp_path: Path) -> None:
    new = new_run_dir("x", tmp_path / "a" / "b" / "out")
    assert new == (tmp_path / "a" / "b" / "out").resolve() and (new / files.EVENTS).exists()
    (tmp_path / "empty").mkdir()
    assert new_run_dir("x", tmp_path / "empty") == (tmp_path / "empty").resolve()


@pytest.mark.parametrize("kind", ["file", "devnull", "non-empty", "used-run", "under-a-file", "unwritable"])
def test_out_that_cannot_hold_a_new_run_is_refused(tmp_path: Path, kind: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = {"file": tmp_path / "f.txt", "devnull": Path("/dev/null"), "non-empty": tmp_path / "d",
           "used-run": tmp_path / "run", "under-a-file": tmp_path / "f.txt" / "out",
           "unwritable": tmp_path / "ro"}[kind]
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("keep me")
    (tmp_path / "ro").mkdir()
    new_run_dir("x", tmp_path / "run")
    if kind == "unwritable":  # as root every path is writable: ask as a user would be answered
        monkeypatch.setattr("drills.rundir.newrun.os.access", lambda *_a: False)
    with pytest.raises(RunDirError) as exc:
        new_run_dir("x", out)
    assert str(out) in exc.value.message
    assert (tmp_path / "d" / "notes.txt").read_text() == "keep me" and list((tmp_path / "d").iterdir()) == [
        tmp_path / "d" / "notes.txt"]


def test_two_runs_claiming_the_same_empty_out_cannot_both_have_it(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    check_out(tmp_path / "out")  # both checked while it was empty ...
    new_run_dir("x", tmp_path / "out")
    with pytest.raises(RunDirError, match="not empty|another run"):  # ... only the first one gets it
        new_run_dir("x", tmp_path / "out")


@pytest.mark.parametrize("kind", ["file", "devnull", "non-empty"])
def test_drill_run_refuses_such_out_with_a_usage_error_before_anything_starts(
        tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = {"file": tmp_path / "f.txt", "devnull": Path("/dev/null"), "non-empty": tmp_path}[kind]
    (tmp_path / "f.txt").write_text("x")
    before = sorted(tmp_path.rglob("*"))
    assert main(["run", str(SCENARIO), "--out", str(out)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, nothing started


def _drill(out: Path | None, reports: Path):
    from drills.runner.drill import DrillRun
    from drills.scenario import load_scenario

    return DrillRun(load_scenario(SCENARIO), SCENARIO, out, 1, False, True, lambda _m: None, reports_root=reports)


def test_runs_into_different_out_dirs_of_the_same_name_get_different_ids(tmp_path: Path) -> None:
    a, b = _drill(tmp_path / "a" / "out", tmp_path), _drill(tmp_path / "b" / "out", tmp_path)
    c, d = _drill(None, tmp_path / "reports"), _drill(None, tmp_path / "reports")
    ids = {r.run_id for r in (a, b, c, d)}
    assert len(ids) == 4 and all(i.startswith("leader-kill-") and len(i) <= RUN_ID_MAX for i in ids)
    assert c.run_dir != d.run_dir


def test_drill_run_refuses_a_used_run_directory(tmp_path: Path) -> None:
    first = _drill(tmp_path / "out", tmp_path)
    (first.run_dir / files.EVENTS).write_text('{"kind": "run"}\n')
    with pytest.raises(UsageError, match="not empty"):
        _drill(tmp_path / "out", tmp_path)
    assert (first.run_dir / files.EVENTS).read_text() == '{"kind": "run"}\n'


def test_an_out_whose_metadata_cannot_even_be_read_is_a_clear_error(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(self: Path, *_a: object, **_k: object) -> bool:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "exists", denied)
    with pytest.raises(RunDirError, match="cannot be used: Permission denied"):
        new_run_dir("x", tmp_path / "out")
