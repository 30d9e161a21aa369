"""`drill report RUN_DIR`: a run without result.json is judged by the checks (and the result written), then
rendered; `drill compare` works on such runs too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drills.cli import main
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
