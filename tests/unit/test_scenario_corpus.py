"""Every file in scenario_corpus/good loads; every file in scenario_corpus/bad fails exactly where its header says.

A bad file starts with comment lines:
    # expect: LINE:COLUMN [path-fragment] [suggest=NAME] [says=WORD]
    # expect-count: N          (optional: the exact number of issues)
`suggest=none` means the issue offers no "did you mean" (a real name that is refused is not a typo).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from drills.errors import ExitCode
from drills.scenario import Issue, ScenarioInvalid, load_scenario, validate_files

CORPUS = Path(__file__).resolve().parent / "scenario_corpus"
GOOD = sorted((CORPUS / "good").glob("*.yaml"))
BAD = sorted((CORPUS / "bad").glob("*.yaml"))


def _expectations(path: Path) -> tuple[list[dict], int | None]:
    expected, count = [], None
    for line in path.read_text().splitlines():
        if m := re.match(r"#\s*expect-count:\s*(\d+)", line):
            count = int(m.group(1))
        elif m := re.match(r"#\s*expect:\s*(\d+):(\d+)\s*(.*)", line):
            spec = {"line": int(m.group(1)), "column": int(m.group(2))}
            for token in m.group(3).split():
                key, _, value = token.partition("=")
                spec.update({key: value} if value else {"path": token})
            expected.append(spec)
    return expected, count


def _matches(issue: Issue, spec: dict) -> bool:
    return (issue.line == spec["line"] and issue.column == spec["column"]
            and spec.get("path", "") in issue.path
            and ("suggest" not in spec or issue.suggestion == (None if spec["suggest"] == "none" else spec["suggest"]))
            and ("says" not in spec or spec["says"].lower() in issue.message.lower()))


def test_the_corpus_is_there():
    assert len(GOOD) >= 4 and len(BAD) >= 14


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_scenarios_load(path: Path):
    scenario = load_scenario(path)
    assert scenario.name and scenario.path == str(path)
    assert scenario.budgets, "a scenario is always judged by something"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_scenarios_fail_where_their_header_says(path: Path):
    expected, count = _expectations(path)
    assert expected, f"{path.name} has no '# expect:' line"
    issues = validate_files([path])[str(path)]
    listing = "\n".join(str(i) for i in issues)
    for spec in expected:
        assert any(_matches(i, spec) for i in issues), f"no issue matches {spec} in:\n{listing}"
    if count is not None:
        assert len(issues) == count, listing
    with pytest.raises(ScenarioInvalid) as caught:
        load_scenario(path)
    assert caught.value.exit_code == ExitCode.INVALID_SCENARIO
    assert str(caught.value).splitlines() == [str(i) for i in issues]


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_every_issue_names_file_line_and_column(path: Path):
    for issue in validate_files([path])[str(path)]:
        assert str(issue).startswith(f"{path}:{issue.line}:{issue.column}: ")
        assert issue.line >= 1 and issue.column >= 1


SHIPPED = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenarios_are_valid(path: Path):
    assert validate_files([path])[str(path)] == []
