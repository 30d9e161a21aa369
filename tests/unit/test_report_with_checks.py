"""The report renders what the checks really write: judge a fixture run with drills.checks, then render it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from drills.report import render_run

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"
checks = pytest.importorskip("drills.checks.result", reason="drills.checks is not available")
scenario = pytest.importorskip("drills.scenario", reason="drills.scenario is not available")


@pytest.mark.parametrize("kind", ["pass", "fail", "aborted"])
def test_render_a_judged_run(tmp_path: Path, kind: str) -> None:
    run = tmp_path / kind
    shutil.copytree(FIXTURES / kind, run)
    (run / "result.json").unlink()
    result = checks.judge(run, scenario.load_scenario(run / "scenario.yaml"))
    checks.write_result(run, result)
    html = render_run(run)[0].read_text()
    assert "could not be rendered" not in html
    assert f'data-verdict="{result["verdict"]}"' in html
    for b in result["budgets"]:
        assert f'data-budget="{b["name"]}"' in html
    assert html.count('class="fault-span"') >= 5 * len(result["faults"])
    json.dumps(result)  # the result stays plain JSON
