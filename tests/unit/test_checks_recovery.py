"""Disaster recovery: RTO, RPO and what a restore lost, judged from small constructed run directories.

Each run is built with the checks' run builder (times are offsets from load start); disasters and restores are
written as the runner writes them: `kind: fault` lines with a `data` object (docs/run-directory.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.checks import judge
from drills.checks.finalstate import FinalState
from drills.checks.verdict import decide
from drills.scenario.model import Budget
from tests.unit.test_checks_builder import Run, at, scenario
from tests.unit.test_checks_schema import validate
from tests.unit.test_scenario_validate import issues

BACKUPS = [{"label": "F1", "type": "full", "start": at(-300), "stop": at(-290), "size": 31457280,
            "repo_size": 4194304, "wal_start": "000000010000000000000002", "wal_stop": "000000010000000000000002"},
           {"label": "F1_I2", "type": "incr", "start": at(5), "stop": at(7), "size": 31457280, "repo_size": 81920,
            "wal_start": "000000010000000000000004", "wal_stop": "000000010000000000000004"}]
DR_BUDGETS = (Budget("rto_s", max=30), Budget("rpo_s", max=15), Budget("rpo_ops", max=200, op="all"),
              Budget("lost_after_recovery", max=0))


# -- building blocks -----------------------------------------------------------------------------------------------

def inject(run: Run, fault_id: str, t: float, type: str, data: dict | None = None, ok: bool = True,
           error: str | None = None, started: float | None = None) -> None:
    run.events.append({"t": at(t), "kind": "fault", "phase": "inject", "fault_id": fault_id, "type": type,
                       "target": None, "targets": [], "link": None, "params": {}, "scheduled_s": started or t,
                       "started_s": started if started is not None else t, "offset_s": t, "ok": ok, "error": error,
                       "detail": "", "iteration": 0, **({"data": data} if data else {})})


def heal(run: Run, fault_id: str, t: float, type: str, ok: bool = True, error: str | None = None,
         detail: str = "", started: float | None = None) -> None:
    run.events.append({"t": at(t), "kind": "fault", "phase": "heal", "fault_id": fault_id, "type": type,
                       "scheduled_s": started or t, "started_s": started if started is not None else t,
                       "offset_s": t, "ok": ok, "error": error, "detail": detail, "iteration": 0})


def destroy(run: Run, t: float, fault_id: str = "lose-cluster", heal_at: float | None = 50.0, **heal_args) -> None:
    inject(run, fault_id, t, "destroy_cluster", {"disaster": True, "removed": ["pg1", "pg2", "pg3"]})
    if heal_at is not None:
        heal(run, fault_id, heal_at, "destroy_cluster", **heal_args)


def restore(run: Run, started: float, finished: float, removed: float | None, leader: float | None = None,
            healthy: float | None = None, recovered_to: float | None = None, ok: bool = True,
            error: str | None = None, target_time: float | None = None, fault_id: str = "restore",
            skipped: tuple[dict, ...] = (), set_used: str | None = "F1_I2") -> None:
    data = {"ok": ok, "started": at(started), "target": "time" if target_time is not None else "latest",
            "target_time": None if target_time is None else at(target_time), "candidates": ["F1_I2", "F1"],
            "set_used": set_used if ok else None, "sets_skipped": list(skipped),
            "cluster_removed_at": None if removed is None else at(removed),
            "leader_at": None if leader is None else at(leader), "healthy_at": None if healthy is None else at(healthy),
            "recovered_to": None if recovered_to is None else at(recovered_to), "leader": "pg1" if ok else None,
            "error": error, "finished": at(finished), "duration_s": round(finished - started, 3), "backups": BACKUPS}
    inject(run, fault_id, finished, "restore_cluster", {"restore": data}, ok=ok, error=error, started=started)
    heal(run, fault_id, 50.0, "restore_cluster")


def acked_between(run: Run, start: float, end: float) -> list[str]:
    """Keys of the purchases acknowledged by a real 2xx that were invoked in [start, end)."""
    return [line["key"] for line in run.history if line["op"] == "purchase" and line["outcome"] == "ok"
            and start <= round(line["invoke"] - at(0), 3) < end]


def drop_orders(state: FinalState, keys: list[str]) -> None:
    """The restore lost these orders (and their tickets)."""
    gone = set(keys)
    keep = [i for i, k in enumerate(state.order_keys) if k not in gone]
    for name in ("order_ids", "order_keys", "order_events", "order_created", "order_seats"):
        setattr(state, name, [getattr(state, name)[i] for i in keep])
    orders = set(state.order_ids)
    kept = [i for i, o in enumerate(state.ticket_orders) if o in orders]
    for name in ("ticket_ids", "ticket_orders", "ticket_events", "ticket_seats"):
        setattr(state, name, [getattr(state, name)[i] for i in kept])
    for ev in state.events:
        ev["sold"] = ev["tickets"] = ev["seats_taken"] = len(kept)


def budget(result: dict, metric: str, op: str = "purchase") -> dict:
    return next(b for b in result["budgets"] if b["metric"] == metric and b["op"] == op)


# -- destroy_cluster + restore of the latest backup ----------------------------------------------------------------

def destroyed_and_restored(root: Path) -> Run:
    """Load from 0 to 60 s; the cluster is destroyed at 20 s; the restore starts at 25 s, removes the old nodes
    at 26 s, has a leader at 33 s and replays WAL up to 17 s: the 30 purchases acknowledged from 17 s to the
    disaster (plus one on seat 99999, sold again at 40 s) and alice's password change at 18.5 s are lost."""
    run = Run(root)
    run.stream(end=20.0)
    run.stream(start=20.0, end=33.0, outcome=lambda t: "fail")
    run.stream(start=33.0, end=60.0)
    run.purchase("fail", 26.5, key="refused", status=409, error="seats_unavailable")  # served, not acknowledged
    run.purchase("ok", 18.05, key="lost-seat", seats=(99999,))
    run.purchase("ok", 40.05, key="resale", seats=(99999,))
    run.rotate("alice", "ok", 18.5, version=2)
    run.rotate("bob", "ok", 45.0, version=2)
    destroy(run, 20.0)
    restore(run, started=25.0, removed=26.0, leader=33.0, healthy=35.0, finished=36.0, recovered_to=17.0)
    state = run.final_from_history()
    drop_orders(state, acked_between(run, 17.0, 20.0))
    state.credentials["alice"] = 1
    (run.dir).mkdir(parents=True, exist_ok=True)
    (run.dir / "backups.json").write_text(json.dumps({"stanza": "drills", "catalogue": BACKUPS, "error": None}))
    return run


def test_destroy_and_restore_latest_exact_numbers(tmp_path: Path) -> None:
    run = destroyed_and_restored(tmp_path / "run")
    result = run.judge(*DR_BUDGETS, Budget("rpo_ops", max=100), Budget("rpo_ops", max=1, op="rotate_password"))
    assert result["verdict"] == "pass", result["verdict_reasons"]
    validate(result)
    dr = result["disaster_recovery"]
    # RTO: from the disaster (20 s) to the first purchase acknowledged after the old nodes went (invoked 33 s):
    # the 409 at 26.5 s is served but acknowledges nothing
    assert dr["rto_s"] == 13.01 and budget(result, "rto_s")["observed"] == 13.01
    assert dr["rto"]["from_s"] == 20.0 and dr["rto"]["to_s"] == 33.01 and dr["rto"]["never"] is False
    assert dr["rpo_ops"] == {"purchase": 31, "rotate_password": 1, "all": 32}
    assert budget(result, "rpo_ops", "all")["observed"] == 32 and budget(result, "rpo_ops")["observed"] == 31
    assert budget(result, "rpo_ops", "rotate_password")["observed"] == 1
    # RPO: earliest lost acknowledgement 17.01 s to the last write acknowledged before the cut-off, 19.91 s
    assert dr["rpo_s"] == 2.9 and dr["rpo"]["earliest_lost_s"] == 17.01 and dr["rpo"]["last_ack_s"] == 19.91
    assert dr["lost_after_recovery"] == {"purchase": 0, "rotate_password": 0, "all": 0}
    assert budget(result, "lost_after_recovery")["observed"] == 0
    assert dr["recovered_to_s"] == 17.0 and dr["restore_point_behind_disaster_s"] == 3.0
    assert dr["cutoff_s"] == 26.0 and dr["lost"]["by_restore"] == 32 and dr["lost"]["after_recovery"] == 0
    assert result["audit"]["lost"] == 31 and result["audit"]["credential_changes_lost"] == 1
    first = dr["lost"]["by_restore_samples"][0]
    assert (first["op"], first["invoke_s"], first["ack_s"], first["user"]) == ("purchase", 17.0, 17.01, "u1")
    assert {"op": "rotate_password", "user": "alice", "ack_s": 18.51, "acknowledged_version": 2,
            "final_version": 1}.items() <= next(r for r in dr["lost"]["by_restore_samples"]
                                                if r["op"] == "rotate_password").items()
    assert dr["resold_seats"] == 1
    assert {"seat_no": 99999, "lost_key": "lost-seat", "key": "resale", "ack_s": 40.06}.items() <= \
        dr["resold_samples"][0].items()
    assert [r["step"] for r in dr["timeline"]] == ["disaster", "restore_started", "cluster_removed", "leader",
                                                   "first_purchase", "healthy", "restore_finished"]
    (r,) = dr["restores"]
    assert (r["ok"], r["set_used"], r["source"], r["started_s"], r["cluster_removed_s"], r["leader_s"],
            r["finished_s"], r["duration_s"]) == (True, "F1_I2", "action", 25.0, 26.0, 33.0, 36.0, 11.0)
    assert dr["backups"]["source"] == "backups.json" and [b["label"] for b in dr["backups"]["catalogue"]] == \
        ["F1", "F1_I2"]
    assert dr["disasters"] == [{"fault_id": "lose-cluster", "iteration": 0, "type": "destroy_cluster",
                                "t": at(20.0), "t_s": 20.0, "statement": None, "node": None,
                                "db_time_before": None, "removed": ["pg1", "pg2", "pg3"]}]
    # the restore is an interval of its own: from its start to its end
    fault = next(f for f in result["faults"] if f["id"] == "restore")
    assert (fault["injected_s"], fault["healed_s"]) == (25.0, 36.0)


def test_rto_starts_when_the_disaster_struck_not_when_its_line_was_written(tmp_path: Path) -> None:
    """destroy_cluster writes its inject line after removing every node (a second or more): data.at is when
    the nodes were killed, and RTO is measured from there."""
    run = destroyed_and_restored(tmp_path / "run")
    line = next(e for e in run.events if e.get("type") == "destroy_cluster" and e["phase"] == "inject")
    line["t"], line["data"]["at"] = at(21.5), at(20.0)
    dr = run.judge(*DR_BUDGETS)["disaster_recovery"]
    assert dr["rto"]["from_s"] == 20.0 and dr["rto_s"] == 13.01


def test_a_seat_sold_twice_across_the_restore_fails_its_budget(tmp_path: Path) -> None:
    result = destroyed_and_restored(tmp_path / "run").judge(*DR_BUDGETS, Budget("resold_seats", max=0))
    b = budget(result, "resold_seats")
    assert (b["observed"], b["passed"]) == (1, False) and "seat 99999" in b["detail"]
    assert result["verdict"] == "fail"


def test_tight_budgets_fail_on_the_same_run(tmp_path: Path) -> None:
    result = destroyed_and_restored(tmp_path / "run").judge(
        Budget("rto_s", max=10), Budget("rpo_s", max=2), Budget("rpo_ops", max=30))
    assert [b["passed"] for b in result["budgets"]] == [False, False, False]
    assert result["verdict"] == "fail"


def test_catalogue_comes_from_the_restore_without_backups_json(tmp_path: Path) -> None:
    run = destroyed_and_restored(tmp_path / "run")
    (run.dir / "backups.json").unlink()
    dr = run.judge(Budget("rto_s", max=30))["disaster_recovery"]
    assert dr["backups"]["source"] == "data of restore 'restore'"
    assert [b["label"] for b in dr["backups"]["catalogue"]] == ["F1", "F1_I2"]


# -- operator_error + point-in-time restore ------------------------------------------------------------------------

def pitr_run(root: Path) -> Run:
    """An operator's mistake at 20 s that purchases survive (a DELETE on another table, say); the PITR restore
    starts at 30 s, removes the old nodes at 31 s and recovers to 19.95 s: everything the damaged cluster
    acknowledged from 20 s to 31 s is lost by the restore. One purchase acknowledged by the restored cluster
    (invoked at 45 s) is lost too: that is not the restore's doing."""
    run = Run(root)
    run.stream(end=31.0)
    run.stream(start=31.0, end=36.0, outcome=lambda t: "fail")
    run.stream(start=36.0, end=60.0)
    inject(run, "oops", 20.0, "operator_error", {"disaster": True, "statement": "DELETE FROM sessions",
                                                 "db_time_before": at(19.995), "node": "pg1"})
    heal(run, "oops", 50.0, "operator_error")
    restore(run, started=30.0, removed=31.0, leader=35.9, healthy=37.0, finished=38.0, recovered_to=19.95,
            target_time=19.995, fault_id="pitr")
    state = run.final_from_history()
    drop_orders(state, acked_between(run, 19.95, 31.0) + acked_between(run, 45.0, 45.05))
    return run


def test_point_in_time_restore_loses_what_was_acknowledged_after_the_mistake(tmp_path: Path) -> None:
    run = pitr_run(tmp_path / "run")
    result = run.judge(Budget("rto_s", max=30), Budget("rpo_s", max=15), Budget("rpo_ops", max=200),
                       Budget("lost_after_recovery", max=0))
    validate(result)
    dr = result["disaster_recovery"]
    assert dr["rto_s"] == 16.01  # 20 s -> the purchase invoked at 36 s, completed at 36.01 s
    assert dr["rpo_ops"] == {"purchase": 110, "rotate_password": None, "all": 110}  # invoked 20.0 .. 30.9 s
    assert dr["rpo_s"] == 10.9  # 20.01 s .. 30.91 s
    assert dr["lost_after_recovery"]["all"] == 1
    (after,) = dr["lost"]["after_recovery_samples"]
    assert (after["invoke_s"], after["ack_s"], after["op"]) == (45.0, 45.01, "purchase")
    assert dr["restore_point_behind_disaster_s"] == 0.05
    (r,) = dr["restores"]
    assert (r["target"], r["target_time_s"], r["recovered_to_s"]) == ("time", 19.995, 19.95)
    assert dr["disasters"][0]["statement"] == "DELETE FROM sessions"
    assert [b["passed"] for b in result["budgets"]] == [True, True, True, False]
    assert result["verdict"] == "fail"
    assert any("lost_after_recovery" in r for r in result["verdict_reasons"])


def test_pitr_restore_that_never_serves_again_fails_rto(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=20.0)
    run.stream(start=20.0, end=60.0, outcome=lambda t: "fail")
    inject(run, "oops", 20.0, "operator_error", {"disaster": True, "statement": "DROP TABLE tickets CASCADE",
                                                 "db_time_before": at(19.99), "node": "pg1"})
    restore(run, started=30.0, removed=31.0, leader=35.0, finished=38.0, recovered_to=19.9, target_time=19.99)
    run.final_from_history()
    result = run.judge(Budget("rto_s", max=3600))
    b = budget(result, "rto_s")
    assert (b["passed"], b["observed"], b["censored"], b.get("never")) == (False, 40.0, True, True)
    assert "no purchase was acknowledged again" in b["detail"]
    assert result["verdict"] == "fail"


# -- a failed restore ----------------------------------------------------------------------------------------------

def failed_restore_run(root: Path) -> Run:
    """The cluster is destroyed at 20 s; the restore finds every backup set's files gone and fails; the heal at
    the end of steady fails the same way. Nothing is left to read: no final-state.json."""
    run = Run(root)
    run.stream(end=20.0)
    run.stream(start=20.0, end=60.0, outcome=lambda t: "fail")
    destroy(run, 20.0, heal_at=50.0, ok=False, error="restore failed: every backup set is unusable")
    restore(run, started=25.0, removed=None, finished=40.0, ok=False, error="every backup set is unusable",
            skipped=({"set": "F1_I2", "error": "backup files missing"}, {"set": "F1", "error": "backup files missing"}))
    inject(run, "gone", 10.0, "lose_backup", {"lost": ["F1_I2", "F1"], "which": "all"})
    run.events.append({"t": at(61.0), "kind": "run", "name": "stack_not_recovered", "reason": "no leader"})
    return run


def test_failed_restore_fails_rto_and_leaves_data_loss_unknown(tmp_path: Path) -> None:
    run = failed_restore_run(tmp_path / "run")
    result = run.judge(*DR_BUDGETS, Budget("lost", max=0))
    validate(result)
    assert result["verdict"] == "fail", result["verdict_reasons"]
    rto = budget(result, "rto_s")
    assert rto["passed"] is False and rto["never"] is True and rto["observed"] == 40.0
    assert "never recovered" in rto["detail"] and "every backup set is unusable" in rto["detail"]
    for metric, op in (("rpo_s", "purchase"), ("rpo_ops", "all"), ("lost_after_recovery", "purchase"),
                       ("lost", "purchase")):
        b = budget(result, metric, op)
        assert b["passed"] is None and b["observed"] is None and "final state missing" in b["detail"], b
    dr = result["disaster_recovery"]
    assert dr["rto"]["never"] is True and dr["rto"]["recovered"] is False
    assert [(r["source"], r["ok"]) for r in dr["restores"]] == [("action", False), ("heal", False)]
    assert dr["restores"][0]["sets_skipped"][0] == {"set": "F1_I2", "error": "backup files missing"}
    assert dr["backup_losses"] == [{"fault_id": "gone", "iteration": 0, "t_s": 10.0, "ok": True, "error": None,
                                    "which": "all", "lost": ["F1_I2", "F1"]}]
    assert dr["final_state"] == "missing" and dr["lost"]["by_restore_samples"] == []
    assert result["verdict_reasons"] == [rto["name"] + ": " + rto["detail"]]


def test_a_restore_action_that_could_not_even_start_fails_rto(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=60.0, outcome=lambda t: "fail" if 20 <= t < 30 else "ok")
    destroy(run, 20.0, heal_at=None)
    inject(run, "pitr", 22.0, "restore_cluster", ok=False,
           error="fault 'oops' was not injected (or its injection failed): there is no moment to restore to")
    run.final_from_history()
    result = run.judge(Budget("rto_s", max=60))
    validate(result)
    b = budget(result, "rto_s")
    assert b["passed"] is False and "restore 'pitr' failed: fault 'oops' was not injected" in b["detail"]
    (r,) = result["disaster_recovery"]["restores"]
    assert (r["ok"], r["started_s"], r["finished_s"], r["set_used"]) == (False, 22.0, 22.0, None)


def test_a_failed_restore_fails_even_with_a_saturated_generator() -> None:
    events = [{"kind": "run", "name": "load_stopped", "t": 1.0}]
    never = {"name": "rto_s", "metric": "rto_s", "observed": 40.0, "passed": False, "never": True,
             "detail": "never recovered: x", "limit": {"min": None, "max": 60}}
    slow = {**never, "observed": 90.0, "never": False, "detail": "slow"}
    rpo = {**slow, "name": "rpo_ops", "metric": "rpo_ops"}
    saturated = {"saturated": True, "reasons": ["cpu"]}
    assert decide(events, 10, [never], saturated)[0] == "fail"
    assert decide(events, 10, [rpo], saturated)[0] == "fail"
    assert decide(events, 10, [slow], saturated)[0] == "inconclusive"


# -- restores timed by a heal line alone ---------------------------------------------------------------------------

def test_a_disaster_healed_by_a_restore_at_the_end_of_steady(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=20.0)
    run.stream(start=20.0, end=40.0, outcome=lambda t: "fail")
    run.stream(start=40.0, end=60.0)
    destroy(run, 20.0, heal_at=40.0, started=28.0,
            detail="restored the database cluster from F1_I2 in 12.0s")
    run.final_from_history()
    result = run.judge(Budget("rto_s", max=30), Budget("lost_after_recovery", max=0), Budget("rpo_s", max=0))
    dr = result["disaster_recovery"]
    (r,) = dr["restores"]
    assert (r["source"], r["ok"], r["approximate"], r["started_s"], r["finished_s"]) == ("heal", True, True, 28.0,
                                                                                         40.0)
    assert dr["cutoff_s"] == 40.0 and dr["rto_s"] == 20.01
    assert dr["rpo_s"] == 0.0 and dr["lost_after_recovery"]["all"] == 0
    assert result["verdict"] == "pass", result["verdict_reasons"]


def test_a_heal_that_found_the_cluster_serving_is_not_a_restore(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=60.0, outcome=lambda t: "fail" if 20 <= t < 23 else "ok")
    destroy(run, 20.0, heal_at=50.0, detail="database cluster serves again: nothing to restore")
    run.final_from_history()
    result = run.judge(Budget("rto_s", max=30), Budget("lost_after_recovery", max=0))
    dr = result["disaster_recovery"]
    assert dr["restores"] == [] and dr["cutoff_from"] == "disaster lose-cluster"
    assert dr["rto_s"] == 3.01  # the first purchase of the first stable stretch after the disaster (23 s)
    assert budget(result, "lost_after_recovery")["passed"] is None
    assert "no restore succeeded" in budget(result, "lost_after_recovery")["detail"]


# -- no disaster ---------------------------------------------------------------------------------------------------

def test_a_run_without_disasters_has_no_recovery_section(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.1, outcome=lambda t: "info" if 30 <= t < 33 else "ok")
    run.fault("kill-leader", 30.0, 45.0)
    run.final_from_history()
    result = run.judge(*DR_BUDGETS, Budget("lost", max=0))
    validate(result)
    assert "disaster_recovery" not in result
    reasons = {b["metric"]: b["detail"] for b in result["budgets"]}
    assert all(b["passed"] is None for b in result["budgets"] if b["metric"] != "lost")
    assert "no destroy_cluster or operator_error took effect" in reasons["rto_s"]
    for metric in ("rpo_s", "rpo_ops", "lost_after_recovery"):
        assert "no disaster or restore in this run" in reasons[metric]
    assert result["verdict"] == "inconclusive"


def test_history_keeps_real_acknowledgements_apart_from_refusals(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.purchase("ok", 1.0)
    run.purchase("fail", 2.0, status=409, error="seats_unavailable")
    run.rotate("alice", "ok", 3.0, version=2)
    run.rotate("bob", "fail", 4.0, status=401, error="unauthorized")
    from drills.checks.inputs import read_run
    history = read_run(run.write()).history
    assert history is not None
    assert history.acked_purchases.complete.tolist() == [at(1.01)]
    assert history.acked_rotations.complete.tolist() == [at(3.01)]
    assert len(history.attempts("purchase", "ok")) == 2  # availability counts the refusal as served


# -- the scenario side ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("budget_spec, words", [
    ({"metric": "rpo_ops", "op": "login", "max": 0}, ("rpo_ops", "purchase, rotate_password, all", "login")),
    ({"metric": "rto_s", "phase": "steady", "max": 60}, ("phase all", "rto_s")),
    ({"metric": "rto_s", "min": 60}, ("expected max",)),
])
def test_recovery_budgets_are_validated(budget_spec: dict, words: tuple[str, ...]) -> None:
    (found,) = issues({"name": "t", "budgets": [budget_spec]})
    for word in words:
        assert word in found, found


def test_recovery_budgets_are_accepted() -> None:
    assert issues({"name": "t", "budgets": [{"metric": "rto_s", "max": "2m"}, {"metric": "rpo_s", "max": 15},
                                            {"metric": "rpo_ops", "op": "all", "max": 10},
                                            {"metric": "lost_after_recovery", "max": 0}]}) == []


def test_judging_needs_no_stack(tmp_path: Path) -> None:
    """judge() over the files alone, as `drill report` does it."""
    run = destroyed_and_restored(tmp_path / "run")
    run.write()
    result = judge(run.dir, scenario(Budget("rto_s", max=30)))
    assert result["disaster_recovery"]["rto_s"] == 13.01
