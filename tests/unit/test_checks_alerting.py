"""The alerting checks (drills/checks/alerting.py) on constructed alerts.jsonl + events: time to fire and to
resolve, missed alerts, false alarms, flaps; and what a record with holes (no file, damaged lines, problems)
makes of them: unknown or a lower bound, never a pass."""

from __future__ import annotations

import json
from pathlib import Path

from drills.checks import judge
from drills.scenario.model import AlertsSection, Budget, ExpectedAlert, Phases, Scenario
from tests.unit.test_checks_builder import Run, at


def note(t: float, status: str, alert: str = "PatroniNoLeader", starts: float | None = None, **labels: str) -> dict:
    return {"t": at(t), "kind": "notification", "status": status, "alertname": alert,
            "labels": {"alertname": alert, **labels}, "annotations": {},
            "starts_at": at(starts if starts is not None else t), "ends_at": None if status == "firing" else at(t),
            "fingerprint": f"fp-{alert}-{sorted(labels.items())}", "receiver": "drills"}


def state(t: float, st: str, alert: str = "PatroniNoLeader") -> dict:
    return {"t": at(t), "kind": "state", "source": "prometheus", "alertname": alert,
            "labels": {"alertname": alert}, "state": st, "active_at": at(t)}


def healthy_run(root: Path, *faults: tuple[str, float, float]) -> Run:
    run = Run(root)
    run.stream(end=60.0, every=0.5)
    for fid, inject, heal in faults:
        run.fault(fid, inject, heal)
    return run


def write_alerts(run: Run, lines: list[dict | str]) -> Path:
    path = run.write()
    (path / "alerts.jsonl").write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def alerting_scenario(*budgets: Budget, expected: list[ExpectedAlert] | None = None, grace: float = 10.0,
                      allow: bool = False) -> Scenario:
    section = AlertsSection(expected=expected if expected is not None else
                            [ExpectedAlert("PatroniNoLeader", "kill", fire_within=15.0, resolve_within=20.0)],
                            grace=grace, allow_firing_at_start=allow)
    return Scenario(name="t", budgets=list(budgets), phases=Phases(10.0, 40.0, 10.0), alerts=section)


ALL = (Budget("time_to_fire_s", max=15, op="all"), Budget("time_to_resolve_s", max=20, op="all"),
       Budget("missed_alerts", max=0, op="all"), Budget("false_alarms", max=0, op="all"),
       Budget("alert_flaps", max=0, op="all"))


def rows(result: dict) -> dict[str, dict]:
    return {b["metric"]: b for b in result["budgets"]}


def test_an_alert_that_fires_and_resolves_in_time_holds_every_budget(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [state(22.0, "pending"), state(24.0, "firing"),
                              note(27.0, "firing", starts=24.0), note(37.0, "firing", starts=24.0),  # a repeat
                              note(45.5, "resolved", starts=24.0), state(44.0, "inactive")])
    result = judge(path, alerting_scenario(*ALL))
    got = rows(result)
    assert got["time_to_fire_s"]["observed"] == 7.0 and got["time_to_fire_s"]["passed"] is True
    assert got["time_to_resolve_s"]["observed"] == 5.5 and got["time_to_resolve_s"]["passed"] is True
    assert got["missed_alerts"]["observed"] == 0
    assert got["false_alarms"]["observed"] == 0
    assert got["alert_flaps"]["observed"] == 0, "a repeated notification of the same firing is no flap"
    assert result["verdict"] == "pass", result["verdict_reasons"]
    section = result["alerting"]
    assert section["expected"][0]["fired_s"] == 27.0 and section["expected"][0]["resolved_s"] == 45.5
    assert [(i["state"], i["start_s"], i["end_s"]) for i in section["intervals"]] == [
        ("pending", 22.0, 24.0), ("firing", 24.0, 44.0)]
    assert len(section["notifications"]) == 3


def test_an_alert_that_resolved_before_the_heal_took_zero_seconds_to_resolve(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [note(25.0, "firing"), note(32.0, "resolved", starts=25.0)])
    got = rows(judge(path, alerting_scenario(*ALL)))
    assert got["time_to_resolve_s"]["observed"] == 0.0
    assert "before the heal" in got["time_to_resolve_s"]["detail"]


def test_an_alert_that_never_fired_is_missed_and_fails(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [state(21.0, "pending")])      # pending, never firing: no notification
    result = judge(path, alerting_scenario(*ALL))
    got = rows(result)
    assert got["missed_alerts"]["observed"] == 1 and got["missed_alerts"]["passed"] is False
    assert got["time_to_fire_s"]["passed"] is False and got["time_to_fire_s"].get("never") is True
    assert got["time_to_resolve_s"]["passed"] is None       # nothing fired, nothing to resolve
    assert result["verdict"] == "fail"
    assert result["alerting"]["expected"][0]["missed"] is True


def test_a_late_firing_counts_as_missed_with_its_real_time(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [note(38.0, "firing"), note(42.0, "resolved", starts=38.0)])
    got = rows(judge(path, alerting_scenario(*ALL)))
    assert got["time_to_fire_s"]["observed"] == 18.0 and got["time_to_fire_s"]["passed"] is False
    assert got["missed_alerts"]["observed"] == 1


def test_firings_during_warmup_and_long_after_the_heal_are_false_alarms(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [
        note(3.0, "firing", alert="ReplicationLagHigh"),                 # warm-up, no fault yet
        note(25.0, "firing"), note(44.0, "resolved", starts=25.0),
        note(30.0, "firing", alert="ApiReplicaDown", instance="api1"),   # during the fault: explained
        note(48.0, "firing", alert="EtcdMemberDown", starts=48.0),       # heal 40 + grace 10: still explained
        note(55.0, "firing", alert="EtcdMemberDown", starts=51.0, member="etcd2"),   # after the grace
    ])
    result = judge(path, alerting_scenario(*ALL, Budget("false_alarms", max=0, op="all", alert="ReplicationLagHigh",
                                                        name="lag")))
    got = {b["name"]: b for b in result["budgets"]}
    assert got["false_alarms[alerts]"]["observed"] == 2 and got["false_alarms[alerts]"]["passed"] is False
    assert got["lag"]["observed"] == 1
    assert [(f["alert"], f["started_s"]) for f in result["alerting"]["false_alarms"]] == [
        ("ReplicationLagHigh", 3.0), ("EtcdMemberDown", 51.0)]


def test_a_no_fault_baseline_judges_false_alarms_without_expected_alerts(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r")
    quiet = write_alerts(run, [state(5.0, "pending"), state(9.0, "inactive")])   # pending only never pages
    s = Scenario(name="t", budgets=[Budget("false_alarms", max=0, op="all")], phases=Phases(10.0, 40.0, 10.0),
                 alerts=AlertsSection())
    assert rows(judge(quiet, s))["false_alarms"]["passed"] is True
    noisy = write_alerts(healthy_run(tmp_path / "n"), [note(12.0, "firing", alert="PurchaseErrorBudgetBurn")])
    assert rows(judge(noisy, s))["false_alarms"]["observed"] == 1
    # no expected alerts: the other alerting budgets have nothing to judge
    got = rows(judge(quiet, Scenario(name="t", budgets=[Budget("missed_alerts", max=0, op="all")],
                                     alerts=AlertsSection())))
    assert got["missed_alerts"]["passed"] is None


def test_an_alert_already_firing_before_the_load_is_listed_when_allowed(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [note(1.0, "firing", alert="BackupTooOld", starts=-30.0),
                              note(25.0, "firing"), note(42.0, "resolved", starts=25.0)])
    allowed = judge(path, alerting_scenario(*ALL, allow=True))
    assert rows(allowed)["false_alarms"]["observed"] == 0
    assert [o["alert"] for o in allowed["alerting"]["firing_at_start"]] == ["BackupTooOld"]
    assert rows(judge(path, alerting_scenario(*ALL)))["false_alarms"]["observed"] == 1


def test_fired_resolved_and_fired_again_for_one_fault_is_a_flap(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [note(24.0, "firing", starts=23.0), note(29.0, "resolved", starts=23.0),
                              note(33.0, "firing", starts=32.0), note(45.0, "resolved", starts=32.0)])
    got = rows(judge(path, alerting_scenario(*ALL)))
    assert got["alert_flaps"]["observed"] == 1 and got["alert_flaps"]["passed"] is False
    assert got["time_to_resolve_s"]["observed"] == 5.0, "resolved when its last firing resolved"


def test_a_new_firing_without_a_resolution_between_closes_the_old_one(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [note(24.0, "firing", starts=23.0), note(33.0, "firing", starts=32.0),
                              note(44.0, "resolved", starts=32.0)])
    got = rows(judge(path, alerting_scenario(*ALL)))
    assert got["alert_flaps"]["observed"] == 1
    assert got["time_to_resolve_s"]["observed"] == 4.0 and got["time_to_resolve_s"]["censored"] is False


def test_two_faults_each_judged_by_their_own_expected_alert(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 12.0, 22.0), ("cut", 30.0, 40.0))
    expected = [ExpectedAlert("PatroniNoLeader", "kill", fire_within=10.0, resolve_within=10.0),
                ExpectedAlert("ApiReplicaDown", "cut", labels={"instance": "api2"}, fire_within=10.0,
                              resolve_within=10.0)]
    path = write_alerts(run, [
        note(15.0, "firing"), note(24.0, "resolved", starts=15.0),
        note(33.0, "firing", alert="ApiReplicaDown", instance="api1"),   # wrong instance: does not match
        note(36.0, "firing", alert="ApiReplicaDown", instance="api2"),
        note(43.0, "resolved", alert="ApiReplicaDown", starts=36.0, instance="api2"),
        note(44.0, "resolved", alert="ApiReplicaDown", starts=33.0, instance="api1"),
    ])
    budgets = (Budget("time_to_fire_s", max=5, op="all", alert="PatroniNoLeader", name="leader"),
               Budget("time_to_fire_s", max=5, op="all", alert="ApiReplicaDown", name="api"),
               Budget("time_to_fire_s", max=5, op="all", name="worst"),
               Budget("missed_alerts", max=0, op="all"), Budget("false_alarms", max=0, op="all"))
    result = judge(path, alerting_scenario(*budgets, expected=expected))
    got = {b["name"]: b for b in result["budgets"]}
    assert got["leader"]["observed"] == 3.0 and got["api"]["observed"] == 6.0
    assert got["worst"]["observed"] == 6.0 and got["worst"]["passed"] is False
    assert got["missed_alerts[alerts]"]["observed"] == 0
    assert got["false_alarms[alerts]"]["observed"] == 0
    assert [(r["alert"], r["fault_id"], r["time_to_resolve_s"]) for r in result["alerting"]["expected"]] == [
        ("PatroniNoLeader", "kill", 2.0), ("ApiReplicaDown", "cut", 3.0)]


def test_a_repeated_fault_is_judged_at_each_injection(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r")
    run.fault("kill", 12.0, 18.0, iteration=0)
    run.fault("kill", 30.0, 36.0, iteration=1)
    path = write_alerts(run, [note(14.0, "firing"), note(20.0, "resolved", starts=14.0)])
    got = rows(judge(path, alerting_scenario(*ALL)))
    assert got["missed_alerts"]["observed"] == 1, "the second injection raised nothing"


def test_no_alerts_file_makes_every_alerting_budget_unknown_and_the_run_inconclusive(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    result = judge(run.write(), alerting_scenario(*ALL))
    assert all(b["passed"] is None and "no alerts.jsonl" in b["detail"] for b in result["budgets"])
    assert result["verdict"] == "inconclusive"
    assert result["alerting"]["recorded"] is False


def test_a_run_without_monitoring_and_without_an_alerts_section_has_no_alerting_section(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    result = judge(run.write(), Scenario(name="t", budgets=[Budget("lost", max=0)]))
    assert "alerting" not in result


def test_problems_on_the_notification_path_never_make_a_pass(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [
        {"t": at(22.0), "kind": "problem", "source": "alertmanager", "error": "connection refused"},
        state(30.0, "firing"),
    ])
    result = judge(path, alerting_scenario(*ALL))
    got = rows(result)
    assert got["missed_alerts"]["passed"] is None and got["missed_alerts"]["censored"] is True
    assert got["time_to_fire_s"]["passed"] is None
    assert got["false_alarms"]["passed"] is None, "0 false alarms is only a lower bound with a hole in the record"
    assert result["verdict"] == "inconclusive"
    assert result["alerting"]["problems"][0]["error"] == "connection refused"


def test_a_problem_outside_the_window_leaves_a_clear_miss_a_miss(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [{"t": at(50.0), "kind": "problem", "source": "receiver", "error": "bad json body"}])
    got = rows(judge(path, alerting_scenario(*ALL)))
    assert got["missed_alerts"]["observed"] == 1 and got["missed_alerts"]["passed"] is False


def test_malformed_and_damaged_lines_are_problems_not_crashes(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, [
        note(25.0, "firing"),
        "{not json",
        {"t": at(26.0), "kind": "notification", "alertname": "PatroniNoLeader"},     # no status
        {"t": "yesterday", "kind": "notification", "status": "firing", "alertname": "X"},
        {"t": at(27.0), "kind": "state", "alertname": 7},
        [1, 2, 3],
        note(42.0, "resolved", starts=25.0),
    ])
    result = judge(path, alerting_scenario(*ALL))
    got = rows(result)
    assert got["time_to_fire_s"]["observed"] == 5.0 and got["time_to_fire_s"]["passed"] is True, \
        "what was received stands, holes or not"
    assert got["false_alarms"]["passed"] is None and got["false_alarms"]["censored"] is True
    assert result["alerting"]["problem_count"] >= 4
    assert any("alerts.jsonl" in n for n in result["notes"])


def test_the_record_ending_before_fire_within_is_unknown_not_missed(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 50.0, 55.0))
    run.duration = 58.0
    run.stopped["t"] = at(58.0)
    path = write_alerts(run, [])
    got = rows(judge(path, alerting_scenario(*ALL)))
    assert got["missed_alerts"]["passed"] is None
    assert "record ends" in got["missed_alerts"]["detail"]


# the report: the alert lane on the timeline's axis, the expected-alerts table, the false alarms -----------------

def rendered(tmp_path: Path, lines: list[dict | str]) -> str:
    from drills.checks import write_result
    from drills.report import render_run

    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = write_alerts(run, lines)
    write_result(path, judge(path, alerting_scenario(*ALL)))
    render_run(path)
    return (path / "report.html").read_text()


def test_the_report_draws_the_alert_lane_and_lists_expected_alerts_and_false_alarms(tmp_path: Path) -> None:
    import re

    html = rendered(tmp_path, [state(22.0, "pending"), state(24.0, "firing"), note(27.0, "firing", starts=24.0),
                               note(45.0, "resolved", starts=24.0), state(44.0, "inactive"),
                               note(3.0, "firing", alert="ReplicationLagHigh")])
    lane = re.search(r'<figure id="chart-alerts">(.*?)</figure>', html, re.S)
    assert lane is not None
    svg = lane.group(1)
    assert re.findall(r'class="alert-interval" data-alert="PatroniNoLeader" data-state="(\w+)"', svg) == [
        "pending", "firing"]
    assert len(re.findall(r'class="alert-notification"', svg)) == 3
    assert 'class="fault-span" data-fault-id="kill"' in svg, "the lane shows the fault band like every chart"
    table_ = re.search(r'<table class="alerts-expected">(.*?)</table>', html, re.S)
    assert table_ is not None and 'data-alert="PatroniNoLeader" data-missed="false"' in table_.group(1)
    assert 'data-budget="time_to_resolve_s[alerts]"' in table_.group(0) or "time_to_resolve_s" in html
    assert '<h3 id="false-alarms">False alarms: 1</h3>' in html
    assert re.search(r'<table class="alerts-false">.*ReplicationLagHigh', html, re.S)
    assert '<a href="#alerting">Alerting</a>' in html


def test_alert_names_and_labels_from_the_run_are_escaped(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    html = rendered(tmp_path, [note(3.0, "firing", alert="Evil", instance=evil),
                               {"t": at(5.0), "kind": "problem", "source": "receiver", "error": evil * 2000}])
    assert evil not in html
    assert "&lt;script&gt;" in html and "bytes cut" in html


def test_a_run_without_alerts_has_no_alerting_section(tmp_path: Path) -> None:
    from drills.checks import write_result
    from drills.report import render_run

    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    path = run.write()
    write_result(path, judge(path, Scenario(name="t", budgets=[Budget("lost", max=0)])))
    render_run(path)
    html = (path / "report.html").read_text()
    assert 'id="alerting"' not in html and "chart-alerts" not in html


def test_a_receiverless_watch_leaves_notification_budgets_unknown(tmp_path: Path) -> None:
    run = healthy_run(tmp_path / "r", ("kill", 20.0, 40.0))
    run.events.append({"t": at(-0.5), "kind": "run", "name": "alerts_watched", "prometheus": True,
                       "alertmanager": False, "receiver": False})
    path = write_alerts(run, [state(24.0, "firing")])
    result = judge(path, alerting_scenario(*ALL))
    assert all(b["passed"] is None and "receiver" in b["detail"] for b in result["budgets"])
    assert result["alerting"]["notified"] is False
