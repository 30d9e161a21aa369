"""`drill report RUN_DIR`: a run without result.json is judged by the checks (and the result written), then
rendered; `drill compare` works on such runs too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drills.cli import main
from drills.errors import ExitCode
from drills.report import write_index
from tests.unit.test_checks_schema import validate

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"


@pytest.fixture()
def crashed(tmp_path: Path) -> Path:
    run = tmp_path / "reports" / "crashed"
    shutil.copytree(FIXTURES / "crashed", run)
    return run


def test_report_judges_a_run_without_result_then_renders_it(crashed: Path) -> None:
    assert main(["report", str(crashed)]) == 0
    result = json.loads((crashed / "result.json").read_text())
    validate(result)
    assert result["verdict"] == "error" and result["scenario"] == "leader-kill"
    assert "no load_stopped event: the run stopped half-way (crashed?)" in result["verdict_reasons"]
    html = (crashed / "report.html").read_text()
    assert 'data-verdict="error"' in html and "result.json is missing" not in html  # it is there now
    assert (crashed / "junit.xml").is_file() and (crashed.parent / "index.html").is_file()
    assert 'data-run="crashed" data-verdict="error"' in (crashed.parent / "index.html").read_text()


def test_report_judges_with_default_phases_when_the_scenario_is_unreadable(crashed: Path) -> None:
    (crashed / "scenario.yaml").write_text("phases: {warmup: [\n")
    assert main(["report", str(crashed)]) == 0
    result = json.loads((crashed / "result.json").read_text())
    validate(result)
    assert result["notes"][0].startswith("scenario.yaml could not be read (")
    assert "judged with the default phases" in result["notes"][0]
    assert result["scenario"] == "leader-kill"  # from meta.json
    assert {b["metric"] for b in result["budgets"]} >= {"lost", "success_ratio", "longest_outage_s"}


def test_report_leaves_a_damaged_result_as_it_is(tmp_path: Path) -> None:
    run = tmp_path / "reports" / "pass"
    shutil.copytree(FIXTURES / "pass", run)
    (run / "result.json").write_text('{"verdict": "pass", "budg')
    assert main(["report", str(run)]) == 0
    assert (run / "result.json").read_text() == '{"verdict": "pass", "budg'
    html = (run / "report.html").read_text()
    assert "result.json: not valid JSON" in html and "judged the recorded files now" in html
    assert 'data-verdict="pass"' in html


def test_compare_a_crashed_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for kind in ("crashed", "pass"):
        shutil.copytree(FIXTURES / kind, tmp_path / kind)
    assert main(["compare", str(tmp_path / "crashed"), str(tmp_path / "pass")]) == 0
    out = capsys.readouterr().out
    assert "(error)" in out and "(pass)" in out and "lost[purchase,all]" in out
    assert not (tmp_path / "crashed" / "result.json").exists()  # compare reads; it writes nothing


# ---- only run directories; never an index.html drills did not write ------------------------------------------------

@pytest.mark.parametrize("what", ["missing", "file", "empty", "other files"])
def test_report_refuses_what_is_not_a_run_directory(tmp_path: Path, what: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "folder" / "target"
    target.parent.mkdir()
    if what == "file":
        target.write_text("x")
    elif what != "missing":
        target.mkdir()
        if what == "other files":
            (target / "notes.txt").write_text("mine")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["report", str(target)]) == ExitCode.USAGE
    assert sorted(p.name for p in tmp_path.rglob("*")) == before   # nothing written, here or in the parent
    err = capsys.readouterr().err
    assert "not a run directory" in err or "no such directory" in err
    assert "Traceback" not in err


def test_report_never_overwrites_an_index_drills_did_not_write(crashed: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    index = crashed.parent / "index.html"
    index.write_text("<html>my own page</html>")
    assert main(["report", str(crashed)]) == 0
    assert index.read_text() == "<html>my own page</html>"
    assert "was not written by drills: left as it is" in capsys.readouterr().err
    index.unlink()
    assert main(["report", str(crashed)]) == 0
    ours = index.read_text()
    assert '<meta name="generator" content="drills">' in ours
    index.write_text(ours.replace("Drill runs", "Old drill runs"))
    assert main(["report", str(crashed)]) == 0
    assert "Old drill runs" not in index.read_text()   # drills' own index is rewritten


def test_write_index_skips_a_foreign_index(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "pass", tmp_path / "pass")
    (tmp_path / "index.html").symlink_to(tmp_path / "pass" / "meta.json")
    heard: list[str] = []
    assert write_index(tmp_path, log=heard.append) is None
    assert heard and (tmp_path / "index.html").is_symlink()


@pytest.mark.parametrize("content, why", [('{"verdict": "pass", "budg', "not valid JSON"),
                                          ("[1, 2]", "not a JSON object"),
                                          ('{"format": 2, "verdict": 3}', "verdict: 3 where one of"),
                                          (json.dumps({**json.loads((FIXTURES / "pass" / "result.json").read_text()),
                                                       "description": [1]}), "description: a list where text")])
def test_a_corrupt_result_is_called_corrupt_not_missing(tmp_path: Path, content: str, why: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "reports" / "pass"
    shutil.copytree(FIXTURES / "pass", run)
    (run / "result.json").write_text(content)
    assert main(["report", str(run)]) == 0
    err = capsys.readouterr().err
    assert f"result.json is corrupt: {why}" in err and "missing" not in err
    assert (run / "result.json").read_text() == content
    index = (tmp_path / "reports" / "index.html").read_text()   # it reads the headline only (quick)
    assert ("result.json is corrupt: " in index) == ("description" not in why) and "missing" not in index


def test_compare_warns_about_one_run_twice_and_different_scenarios(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(FIXTURES / "pass", tmp_path / "a")
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "a")]) == 0
    assert "warning: A and B are the same run directory" in capsys.readouterr().err
    shutil.copytree(FIXTURES / "pass", tmp_path / "b")
    result = json.loads((tmp_path / "b" / "result.json").read_text())
    result.update(scenario="another-drill", run_id="20251127T100000Z-another-drill")
    (tmp_path / "b" / "result.json").write_text(json.dumps(result))
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--html", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "ran different scenarios (leader-kill and another-drill)" in err and "same run" not in err
    assert "ran different scenarios" in (tmp_path / "compare-a-vs-b.html").read_text()
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(tmp_path / "empty"), str(tmp_path / "a")]) == ExitCode.USAGE
    assert "not a run directory" in capsys.readouterr().err


def test_compare_html_in_a_folder_that_does_not_exist_is_a_usage_error(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(FIXTURES / "pass", tmp_path / "a")
    out = tmp_path / "no" / "such" / "x.html"
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "a"), "--html", str(out)]) == ExitCode.USAGE
    assert "--html" in capsys.readouterr().err and not out.parent.exists()


def test_compare_html_that_cannot_be_written_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from drills.report import compare
    from drills.report.render import ReportError

    def refuse(path: Path, text: str) -> None:
        raise ReportError(f"cannot write {path}: Permission denied")

    shutil.copytree(FIXTURES / "pass", tmp_path / "a")
    monkeypatch.setattr(compare, "write_atomic", refuse)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "a"), "--html", str(tmp_path / "x.html")]) \
        == ExitCode.USAGE
    assert "--html" in capsys.readouterr().err
