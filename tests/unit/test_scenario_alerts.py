"""The `alerts` section: expected alerts checked against the rule files (did-you-mean), fault ids, loopback URLs,
budgets that select one alert, the budgets the section implies, and every error at its file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.scenario import alert_rules, check_file, scenario_from_dict
from drills.scenario.alert_rules import rule_alert_names
from tests.unit.test_scenario_validate import issues, one_issue

KILL = {"id": "kill-leader", "type": "kill", "target": {"role": "leader"}, "at": "20s", "duration": "10s"}
RULES = """\
groups:
  - name: ha
    rules:
      - alert: PatroniNoLeader
        expr: max(patroni_primary) < 1
        for: 2s
      - record: job:up:sum
        expr: sum(up)
      - alert: PatroniFailover
        expr: changes(patroni_timeline[1m]) > 0
  - name: api
    rules:
      - alert: ApiReplicaDown
        expr: haproxy_server_status == 0
"""


@pytest.fixture(autouse=True)
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A rules folder like harness/monitoring/rules, for these tests only."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "ha.yml").write_text(RULES)
    (folder / "broken.yml").write_text("groups: [unclosed\n")
    monkeypatch.setattr(alert_rules, "RULES_DIR", folder)
    return folder


def scenario(alerts: object, *budgets: object, **extra: object) -> dict:
    data = {"name": "t", "faults": [KILL], "alerts": alerts, **extra}
    if budgets:
        data["budgets"] = list(budgets)
    return data


def test_the_rule_files_are_the_one_list_of_alert_names(rules: Path) -> None:
    assert rule_alert_names() == ("ApiReplicaDown", "PatroniFailover", "PatroniNoLeader")
    assert rule_alert_names(rules / "nowhere") is None


def test_a_valid_section_with_defaults_and_the_budgets_it_implies() -> None:
    s = scenario_from_dict(scenario({"expected": [{"alert": "PatroniNoLeader", "fault": "kill-leader",
                                                   "labels": {"severity": "page"}, "fire_within": "20s"}],
                                     "abort_on": ["ApiReplicaDown"], "grace": "30s"}))
    assert s.alerts is not None
    e = s.alerts.expected[0]
    assert (e.alert, e.fault, e.labels, e.fire_within, e.resolve_within) == (
        "PatroniNoLeader", "kill-leader", {"severity": "page"}, 20.0, 60.0)
    assert s.alerts.abort_on == ["ApiReplicaDown"] and s.alerts.grace == 30.0
    assert not s.alerts.allow_firing_at_start
    implied = [b.display for b in s.budgets if b.metric in ("missed_alerts", "time_to_resolve_s", "false_alarms")]
    assert implied == ["missed_alerts[PatroniNoLeader]", "time_to_resolve_s[PatroniNoLeader]", "false_alarms[alerts]"]
    assert next(b for b in s.budgets if b.metric == "time_to_resolve_s").max == 60.0


def test_stated_budgets_are_not_implied_again() -> None:
    s = scenario_from_dict(scenario({"expected": [{"alert": "PatroniNoLeader", "fault": "kill-leader"}]},
                                    {"metric": "missed_alerts", "max": 1},
                                    {"metric": "time_to_resolve_s", "max": "90s", "alert": "PatroniNoLeader"},
                                    {"metric": "false_alarms", "max": 2, "alert": "PatroniFailover"}))
    assert sorted(b.display for b in s.budgets) == ["false_alarms[PatroniFailover]", "missed_alerts[alerts]",
                                                    "time_to_resolve_s[PatroniNoLeader]"]
    assert all(b.op == "all" for b in s.budgets)


def test_an_alert_no_rule_defines_is_an_error_with_did_you_mean() -> None:
    found = one_issue(scenario({"expected": [{"alert": "PatroniNoLeeder", "fault": "kill-leader"}]}),
                      "alerts.expected[0].alert", "harness/monitoring/rules", "'PatroniNoLeeder'")
    assert found.endswith("(did you mean 'PatroniNoLeader'?)")
    one_issue(scenario({"abort_on": ["ApiReplicaDwn"]}), "alerts.abort_on[0]", "did you mean 'ApiReplicaDown'")


def test_without_rule_files_names_are_not_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(alert_rules, "RULES_DIR", tmp_path / "none")
    assert issues(scenario({"expected": [{"alert": "AnythingGoes", "fault": "kill-leader"}]})) == []


def test_a_fault_that_does_not_exist_is_an_error_with_did_you_mean() -> None:
    one_issue(scenario({"expected": [{"alert": "PatroniNoLeader", "fault": "kill-leadr"}]}),
              "alerts.expected[0].fault", "kill-leader", "did you mean 'kill-leader'")


@pytest.mark.parametrize("alerts, words", [
    ({"expected": [{"alert": "PatroniNoLeader"}]}, ("alerts.expected[0].fault", "expected a 'fault' key")),
    ({"expected": [{"alert": "PatroniNoLeader", "fault": "kill-leader", "fire_witin": "5s"}]},
     ("did you mean 'fire_within'",)),
    ({"expected": [{"alert": "PatroniNoLeader", "fault": "kill-leader", "fire_within": "2h"}]},
     ("fire_within", "an alert delay of at most 1 h")),
    ({"expected": [{"alert": "PatroniNoLeader", "fault": "kill-leader", "resolve_within": 0}]},
     ("resolve_within", "a positive duration")),
    ({"expected": [{"alert": "PatroniNoLeader", "fault": "kill-leader", "labels": {"9bad": "x"}}]},
     ("labels.9bad", "a label name")),
    ({"grace": "-5s"}, ("alerts.grace",)),
    ({"abort_on": "PatroniNoLeader"}, ("alerts.abort_on", "expected a list")),
    ({"allow_firing_at_start": "yes"}, ("allow_firing_at_start", "true or false")),
    ({"alertmanager_url": "http://127.0.0.1:9093"}, ("alertmanager_url", "reference stack")),
    ({"expectd": []}, ("did you mean 'expected'",)),
    ({"expected": [{"alert": "PatroniNoLeader", "fault": "kill-leader"},
                   {"alert": "PatroniNoLeader", "fault": "kill-leader"}]}, ("alerts.expected[1]", "once per fault")),
])
def test_bad_alerts_sections_say_what_was_expected(alerts: dict, words: tuple[str, ...]) -> None:
    one_issue(scenario(alerts), *words)


def test_an_attached_stack_needs_a_loopback_url_and_its_names_are_its_own() -> None:
    attach = {"attach": {"api_url": "http://127.0.0.1:8080", "toxiproxy_url": "http://127.0.0.1:8474"}}
    expected = {"expected": [{"alert": "MyOwnAlert", "fault": "slow"}]}
    slow = {"id": "slow", "type": "latency", "link": "db", "at": "5s", "duration": "5s",
            "params": {"latency_ms": 100}}
    base = {"name": "t", "stack": attach, "faults": [slow]}
    one_issue({**base, "alerts": expected}, "alertmanager_url or prometheus_url")
    assert issues({**base, "alerts": {**expected, "alertmanager_url": "http://127.0.0.1:9093"}}) == []
    one_issue({**base, "alerts": {**expected, "prometheus_url": "http://10.0.0.5:9090"}}, "alerts.prometheus_url",
              "not loopback")


def test_alerting_budgets_take_an_alert_not_an_op() -> None:
    alerts = {"expected": [{"alert": "PatroniNoLeader", "fault": "kill-leader"}]}
    one_issue(scenario(alerts, {"metric": "time_to_fire_s", "max": "10s", "op": "purchase"}),
              "budgets[0].op", "judges alerts")
    one_issue(scenario(alerts, {"metric": "time_to_fire_s", "max": "10s", "alert": "PatroniFailover"}),
              "budgets[0].alert", "alerts.expected", "PatroniNoLeader")
    one_issue(scenario(alerts, {"metric": "lost", "max": 0, "alert": "PatroniNoLeader"}),
              "budgets[0].alert", "expected no alert for lost")
    one_issue(scenario(alerts, {"metric": "missed_alerts", "max": 0, "phase": "steady"}), "budgets[0].phase")
    s = scenario_from_dict(scenario(alerts, {"metric": "time_to_fire_s", "max": "10s", "alert": "PatroniNoLeader"}))
    assert s.budgets[0].display == "time_to_fire_s[PatroniNoLeader]" and s.budgets[0].alert == "PatroniNoLeader"


def test_errors_point_at_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "drill.yaml"
    path.write_text("""\
name: drill
faults:
  - {id: kill-leader, type: kill, target: {role: leader}, at: 20s, duration: 10s}
alerts:
  grace: 30s
  expected:
    - alert: PatroniNoLeadr
      fault: kill-leader
    - alert: ApiReplicaDown
      fault: kil-leader
budgets:
  - {metric: time_to_fire_s, max: 20s, alert: ApiReplicaDow}
""")
    scenario_, found = check_file(path)
    assert scenario_ is None
    lines = [str(i) for i in found]
    assert lines[0].startswith(f"{path}:7:14: alerts.expected[0].alert: ") and "'PatroniNoLeader'" in lines[0]
    assert lines[1].startswith(f"{path}:10:14: alerts.expected[1].fault: ") and "'kill-leader'" in lines[1]
    assert lines[2].startswith(f"{path}:12:47: budgets[0].alert: ") and "'ApiReplicaDown'" in lines[2]
    assert len(lines) == 3


def test_expected_alerts_need_the_reference_stacks_monitoring() -> None:
    one_issue(scenario({"expected": [{"alert": "PatroniNoLeader", "fault": "kill-leader"}]},
                       stack={"reference": {"monitoring": False}}), "alerts", "monitoring on")
    off = scenario_from_dict(scenario({"grace": "10s"}, stack={"reference": {"monitoring": False}}))
    assert not [b for b in off.budgets if b.metric == "false_alarms"], "nothing could judge it"
