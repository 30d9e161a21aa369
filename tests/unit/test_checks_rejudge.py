"""`drill judge RUN_DIR [--scenario FILE]`: the stored run judged again and written beside result.json, which is
kept byte for byte; bad input is one clear line naming the file, never a traceback."""

from __future__ import annotations

import json
import shutil
from fnmatch import fnmatch
from pathlib import Path

import pytest

from drills.checks.rejudge import rejudge
from drills.cli import main
from drills.errors import ExitCode
from drills.rundir import files
from tests.unit.test_checks_schema import validate

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES / "pass", tmp_path / "run")
    return tmp_path / "run"


def stricter(tmp_path: Path, run: Path, max_failover: str = "5s") -> Path:
    """The run's own scenario with a failover budget it cannot meet."""
    text = (run / files.SCENARIO).read_text().replace("{metric: failover_s, max: 20s}",
                                                      f"{{metric: failover_s, max: {max_failover}}}")
    assert f"max: {max_failover}" in text
    path = tmp_path / "strict.yaml"
    path.write_text(text)
    return path


def rejudged(run: Path) -> list[Path]:
    return sorted(p for p in run.iterdir() if fnmatch(p.name, files.REJUDGED_GLOB))


def test_round_trip_other_budgets_change_the_verdict_and_keep_the_old_one(run: Path, tmp_path: Path,
                                                                         capsys) -> None:
    before = (run / files.RESULT).read_bytes()
    assert json.loads(before)["verdict"] == "pass"
    assert main(["judge", str(run), "--scenario", str(stricter(tmp_path, run))]) == ExitCode.BUDGET_FAILED
    assert (run / files.RESULT).read_bytes() == before        # the original judgement is untouched
    [new] = rejudged(run)
    result = json.loads(new.read_text())
    validate(result)                                          # a whole result, the same schema
    assert result["verdict"] == "fail"
    budget = next(b for b in result["budgets"] if b["metric"] == "failover_s")
    assert budget["limit"]["max"] == 5 and budget["passed"] is False
    assert result["notes"][0].startswith("Judged again ") and "strict.yaml" in result["notes"][0]
    out = capsys.readouterr().out
    assert "verdict pass → fail" in out and "budget failover_s[purchase,all]: pass → FAIL" in out
    assert f"{files.RESULT} is kept as it was" in out


def test_same_budgets_same_verdict_and_a_second_judgement_never_overwrites_the_first(run: Path) -> None:
    first = rejudge(run, now=1_800_000_000.0)
    second = rejudge(run, now=1_800_000_000.0)
    assert first.path != second.path and first.path.exists() and second.path.exists()
    assert first.path.name == files.rejudged_name("20270115T080000Z")
    assert first.result["verdict"] == json.loads((run / files.RESULT).read_text())["verdict"] == "pass"
    assert main(["judge", str(run)]) == ExitCode.PASS
    assert len(rejudged(run)) == 3


def test_looser_budgets_can_pass_a_failed_run(tmp_path: Path) -> None:
    run = tmp_path / "fail"
    shutil.copytree(FIXTURES / "fail", run)
    loose = tmp_path / "loose.yaml"
    loose.write_text((run / files.SCENARIO).read_text().replace("{metric: lost, max: 0}", "{metric: lost, max: 5}")
                     .replace("{metric: oversold, max: 0}", "{metric: oversold, max: 5}"))
    assert json.loads((run / files.RESULT).read_text())["verdict"] == "fail"
    assert main(["judge", str(run), "--scenario", str(loose)]) == ExitCode.PASS
    assert json.loads(rejudged(run)[0].read_text())["verdict"] == "pass"


def one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_not_a_run_directory(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["judge", str(tmp_path / "empty")]) == ExitCode.USAGE
    assert f"{tmp_path / 'empty'} is not a run directory" in one_error(capsys)
    assert main(["judge", str(tmp_path / "nope")]) == ExitCode.USAGE


def test_an_invalid_scenario_names_the_file_and_writes_nothing(run: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbudgets:\n  - {metric: failover, max: 3}\n")
    assert main(["judge", str(run), "--scenario", str(bad)]) == ExitCode.INVALID_SCENARIO
    err = one_error(capsys)
    assert f"{bad}:" in err and "failover" in err
    assert main(["judge", str(run), "--scenario", str(tmp_path / "missing.yaml")]) == ExitCode.INVALID_SCENARIO
    assert f"{tmp_path / 'missing.yaml'}: no such file" in one_error(capsys)
    assert rejudged(run) == []


def test_a_damaged_result_is_said_and_left_as_it_is(run: Path, capsys) -> None:
    (run / files.RESULT).write_text('{"verdict": "pass", "budg')
    assert main(["judge", str(run)]) == ExitCode.PASS
    err = one_error(capsys)
    assert "result.json: not valid JSON" in err and "left as it is" in err
    assert (run / files.RESULT).read_text() == '{"verdict": "pass", "budg'
    assert json.loads(rejudged(run)[0].read_text())["verdict"] == "pass"


def test_a_crashed_run_without_result_is_judged_too(tmp_path: Path, capsys) -> None:
    run = tmp_path / "crashed"
    shutil.copytree(FIXTURES / "crashed", run)
    assert main(["judge", str(run)]) == ExitCode.INFRASTRUCTURE    # it stopped half-way: verdict error
    assert not (run / files.RESULT).exists()
    assert "result.json is missing" in one_error(capsys)
    assert json.loads(rejudged(run)[0].read_text())["verdict"] == "error"
