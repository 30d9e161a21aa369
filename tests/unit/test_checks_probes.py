"""Failover and detection from probes.jsonl."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.scenario.model import Budget
from tests.unit.test_checks_builder import Run


def kill_run(tmp_path: Path, elected_at: float | None = 38.0) -> Run:
    """pg1 leads; it is killed at 30; pg2 takes over at `elected_at`; purchases fail until 39."""
    run = Run(tmp_path / "run")
    run.stream(every=0.1, outcome=lambda t: "fail" if 30 <= t < 39 else "ok")
    run.fault("kill-leader", 30.0, 50.0)
    for k in range(120):
        t = k * 0.5
        if t < 30:
            run.probe(t, "pg1")
        elif elected_at is None or t < elected_at:
            run.probe(t, None, pg1={"container": "exited", "role": "unknown", "lb": "DOWN"})
        else:
            run.probe(t, "pg2", pg1={"container": "running" if t >= 50 else "exited", "role": "replica",
                                     "lb": "DOWN"})
    return run


def test_failover_has_two_parts(tmp_path: Path) -> None:
    result = kill_run(tmp_path).judge(Budget("failover_s", max=10), Budget("failover_s", max=5))
    (f,) = result["availability"]["failovers"]
    assert (f["old_leader"], f["new_leader"]) == ("pg1", "pg2")
    assert (f["gone_s"], f["new_leader_s"], f["first_purchase_s"]) == (30.0, 38.0, 39.01)
    assert (f["election_s"], f["to_first_purchase_s"], f["failover_s"]) == (8.0, pytest.approx(1.01), 9.01)
    assert result["availability"]["failover_s"] == 9.01
    assert [b["passed"] for b in result["budgets"]] == [True, False]


def test_a_frozen_leader_is_gone_from_the_fault_not_from_when_the_cluster_noticed(tmp_path: Path) -> None:
    """Frozen at 30: the cluster still names pg1 leader until its lock expires (probes see it gone at 38);
    pg2 leads from 40, purchases work again at 41. The buyers lost the leader at 30, not at 38."""
    run = Run(tmp_path / "run")
    run.stream(every=0.1, outcome=lambda t: "fail" if 30 <= t < 41 else "ok")
    run.fault("freeze-leader", 30.0, 50.0)
    for k in range(120):
        t = k * 0.5
        if t < 38:
            run.probe(t, "pg1")
        elif t < 40:
            run.probe(t, None, pg1={"container": "paused", "role": "unknown", "lb": "DOWN"})
        else:
            run.probe(t, "pg2", pg1={"container": "paused", "role": "unknown", "lb": "DOWN"})
    result = run.judge(Budget("failover_s", max=10))
    (f,) = result["availability"]["failovers"]
    assert (f["gone_s"], f["seen_gone_s"], f["fault_id"]) == (30.0, 38.0, "freeze-leader")
    assert (f["election_s"], f["failover_s"]) == (10.0, pytest.approx(11.01))
    assert result["budgets"][0]["passed"] is False


def test_a_fault_on_another_node_does_not_move_the_failover(tmp_path: Path) -> None:
    run = kill_run(tmp_path)
    run.fault("kill-replica", 20.0, 25.0, target={"service": "pg3", "container": "drills-x-pg3", "role": "replica"})
    (f,) = run.judge(Budget("failover_s", max=10))["availability"]["failovers"]
    assert (f["gone_s"], f["fault_id"]) == (30.0, "kill-leader")


def test_no_new_leader_is_censored(tmp_path: Path) -> None:
    result = kill_run(tmp_path, elected_at=None).judge(Budget("failover_s", max=10), Budget("failover_s", max=60))
    (f,) = result["availability"]["failovers"]
    assert f["new_leader"] is None and f["censored"] and f["failover_s"] == 30.0
    assert [b["passed"] for b in result["budgets"]] == [False, None]


def test_a_probe_blip_is_not_a_failover(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=10.0)
    for k in range(20):
        t = k * 0.5
        run.probe(t, None if t == 3.0 else "pg1", **({"pg1": {"role": "unknown"}} if t == 3.0 else {}))
    result = run.judge(Budget("failover_s", max=10))
    assert result["availability"]["failovers"] == []
    assert result["budgets"][0]["passed"] is None
    assert "no leader change" in result["budgets"][0]["detail"]


def test_detection_by_haproxy_or_role(tmp_path: Path) -> None:
    result = kill_run(tmp_path).judge(Budget("detection_s", max=1))
    (d,) = result["availability"]["detections"]
    assert d["targets"] == ["pg1"] and d["detection_s"] == 0.0 and "DOWN" in d["how"]
    assert result["faults"][0]["detection_s"] == 0.0
    assert result["budgets"][0]["passed"] is True


def test_detection_of_a_link_fault(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=20.0)
    run.fault("cut-lb-api1", 5.0, 15.0, type="link_down", target=None, link="lb_api1")
    for k in range(40):
        t = k * 0.5
        run.probe(t, "pg1", **({"api1": {"lb": "DOWN"}} if 7.0 <= t < 15 else {}))
    (d,) = run.judge()["availability"]["detections"]
    assert d["targets"] == ["api1"] and d["detection_s"] == 2.0


def test_undetected_fault_is_censored_at_heal(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=20.0)
    run.fault("slow-db", 5.0, 15.0, type="latency", target=None, link="api1_db")
    for k in range(40):
        run.probe(k * 0.5, "pg1")
    result = run.judge(Budget("detection_s", max=5), Budget("detection_s", max=30))
    (d,) = result["availability"]["detections"]
    assert d["censored"] and d["detection_s"] == 10.0 and d["how"] == "not detected"
    assert [b["passed"] for b in result["budgets"]] == [False, None]


def test_no_probes_leave_cluster_metrics_unknown(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=5.0)
    run.fault("kill-leader", 2.0, 4.0)
    result = run.judge(Budget("failover_s", max=10), Budget("detection_s", max=10))
    assert [b["passed"] for b in result["budgets"]] == [None, None]
    assert "probes.jsonl" in result["missing_files"]
