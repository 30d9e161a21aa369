"""A scenario's own alert rules (`stack.reference.alert_rules`): files beside the scenario, checked and read when
it is validated, loaded by the stack's Prometheus beside the shipped rules, and their alert names valid in
`alerts` — which is how the broken-rule self-test drill (scenarios/alerts-broken-rule.yaml) works."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.platform import monitoring, stack_spec
from drills.platform.stack_spec import StackOptions
from drills.platform.system import options_for
from drills.pytest_plugin import glob_matches
from drills.scenario import ScenarioInvalid, check_file, load_scenario

OWN = """\
groups:
  - name: mine
    rules:
      - alert: MyLeaderGone
        expr: (sum(patroni_primray) or vector(1)) < 1
"""


def write(folder: Path, rules: str | None = OWN, listed: str = "rules/mine.yml", monitoring_on: bool = True,
          expect: str = "MyLeaderGone") -> Path:
    if rules is not None:
        (folder / "rules").mkdir(exist_ok=True)
        (folder / "rules" / "mine.yml").write_text(rules)
    path = folder / "s.yaml"
    path.write_text(
        "name: own-rules\n"
        "stack:\n  reference:\n"
        f"    monitoring: {'true' if monitoring_on else 'false'}\n"
        f"    alert_rules: [{listed}]\n"
        "faults:\n  - {id: k, type: kill, target: {role: leader}, at: 5s, duration: 5s}\n"
        f"alerts:\n  expected:\n    - {{alert: {expect}, fault: k}}\n" if monitoring_on else
        "name: own-rules\n"
        "stack:\n  reference:\n    monitoring: false\n"
        f"    alert_rules: [{listed}]\n")
    return path


def problems(path: Path) -> list[str]:
    _, found = check_file(path)
    return [str(i) for i in found]


def test_own_rules_are_read_when_validated_and_their_alerts_count(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path))
    assert scenario.stack.alert_rules == {"rules/mine.yml": OWN}
    assert options_for(scenario.stack, "x").extra_rules == {"rules/mine.yml": OWN}


def test_an_alert_no_rule_defines_is_still_refused(tmp_path: Path) -> None:
    found = problems(write(tmp_path, expect="MyLeaderGon"))
    assert len(found) == 1 and "MyLeaderGon" in found[0] and "did you mean 'MyLeaderGone'" in found[0]


@pytest.mark.parametrize(("rules", "listed", "words"), [
    (None, "rules/mine.yml", ("s.yaml:5:", "no such file")),
    ("just: a mapping\n", "rules/mine.yml", ("not Prometheus' rule format",)),
    (OWN, "../mine.yml", ("'..' leads out of the folder",)),
    (OWN, "/etc/passwd", ("an absolute path",)),
    (OWN, "rules", ("a directory",)),
])
def test_bad_rule_files_are_named_with_their_line(tmp_path: Path, rules: str | None, listed: str,
                                                  words: tuple[str, ...]) -> None:
    found = [p for p in problems(write(tmp_path, rules, listed)) if "stack.reference.alert_rules[" in p]
    assert len(found) == 1, found
    for word in words:
        assert word in found[0], found[0]


def test_a_huge_rule_file_is_refused(tmp_path: Path) -> None:
    found = problems(write(tmp_path, OWN + "#" * (70 * 1024) + "\n"))
    assert any("at most 64 KiB" in p for p in found), found


def test_own_rules_need_monitoring(tmp_path: Path) -> None:
    with pytest.raises(ScenarioInvalid, match="monitoring: false"):
        load_scenario(write(tmp_path, monitoring_on=False))


def test_prometheus_loads_them_beside_the_shipped_rules() -> None:
    opts = StackOptions(extra_rules={"rules/mine.yml": OWN, "other/mine.yml": "groups: []\n"})
    prom = next(s for s in stack_spec.services(opts, "tok") if s.service == monitoring.PROMETHEUS)
    loaded = {Path(p).name: text for p, text in prom.files.items() if p.startswith(monitoring.RULES_PATH)}
    assert loaded["scenario-0-mine.yml"] == "groups: []\n" and loaded["scenario-1-mine.yml"] == OWN
    assert "patroni.yml" in loaded   # the shipped rules stay


def test_the_drill_globs_keep_to_one_folder() -> None:
    assert glob_matches("scenarios/leader-kill.yaml", "scenarios/*.yaml")
    assert not glob_matches("scenarios/rules/broken-no-leader.yml", "scenarios/*.yml")
    assert glob_matches("scenarios/rules/x.yml", "scenarios/**/*.yml")


def test_the_shipped_self_test_uses_a_rule_that_cannot_fire() -> None:
    scenario = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "alerts-broken-rule.yaml")
    assert scenario.expect == "fail"
    text = scenario.stack.alert_rules["rules/broken-no-leader.yml"]
    assert "patroni_primray" in text and "PatroniNoLeaderMisspelt" in text
