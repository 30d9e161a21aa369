"""Remote load workers' health in the checks: a missing worker's window is inconclusive, never an outage; its
clock offset; the generator's worker rows; a run without workers is judged as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.checks import judge, write_result
from drills.checks.availability import Outage, outside
from drills.checks.result_model import read_result
from drills.checks.window import RunWindow, subtract
from drills.checks.worker_clock import clock_offsets, corrected, corrected_stats, history_shifts, worker_of
from drills.checks.worker_health import load_gaps, worker_records
from drills.report import render_run
from drills.report.workers import workers_html
from drills.scenario.model import Budget
from tests.unit.test_checks_builder import T0, Run, at, scenario


def worker_line(run: Run, t: float, name: str, worker: str = "r1", offset: float | None = None,
                detail: str = "") -> None:
    run.events.append({"t": at(t), "kind": "worker", "name": name, "worker": worker, "offset_s": offset,
                       "rtt_s": 0.002 if offset is not None else None, "detail": detail})


def cut_off_worker(tmp_path: Path, with_worker_lines: bool = True, fail_from: float = 30.0,
                   fail_to: float = 40.0) -> Run:
    """Worker r1 makes every purchase; its own network goes at 30 s until 40 s: its purchases fail there and the
    master loses its heartbeat (reported after the rejoin; the master marks it missing at 34). r2 only browses. A
    fault runs from 30 to 40."""
    run = Run(tmp_path / "run")
    run.stream(every=0.1, worker="r1", outcome=lambda t: "fail" if fail_from <= t < fail_to else "ok")
    run.stream("browse", every=1.0, worker="r2")
    run.fault("kill-replica", 30.0, 40.0, target={"service": "pg2"})
    if with_worker_lines:
        for w in ("r1", "r2"):
            worker_line(run, -1.0, "joined", w, offset=0.0)
        worker_line(run, 34.0, "missing", detail="no heartbeat for 3 s")   # Locust tells ~4 s after
        worker_line(run, 40.0, "joined", offset=0.0)
        for w in ("r1", "r2"):
            worker_line(run, 60.5, "quit", w)
    return run


BUDGETS = (Budget("longest_outage_s", max=5), Budget("success_ratio", min=0.99, phase="during_fault"),
           Budget("lost", max=0))


def test_without_the_worker_lines_the_same_history_fails(tmp_path: Path) -> None:
    run = cut_off_worker(tmp_path, with_worker_lines=False)
    run.final_from_history()
    result = run.judge(*BUDGETS)
    assert result["verdict"] == "fail"
    assert [b["passed"] for b in result["budgets"]] == [False, False, True]
    assert "workers" not in result["generator"]


def test_a_worker_missing_during_a_fault_makes_availability_inconclusive(tmp_path: Path) -> None:
    run = cut_off_worker(tmp_path)
    run.final_from_history()
    result = run.judge(*BUDGETS)
    assert result["verdict"] == "inconclusive", result["verdict_reasons"]
    outage, ratio, lost = result["budgets"]
    assert outage["passed"] is None and ratio["passed"] is None and lost["passed"] is True
    assert "30.0-40.0 s" in outage["detail"] and "not an outage" in outage["detail"]
    assert result["availability"]["outages"] == []            # never an outage
    assert result["availability"]["longest_outage_s"] == 0.0
    g = result["generator"]
    r1 = next(w for w in g["workers"] if w["worker"] == "r1")
    assert r1["missing"] == [[30.0, 40.0]] and r1["offset_s"] == 0.0 and r1["end"] == "quit"
    assert r1["lines"] == 600
    assert g["inconclusive"] == [[30.0, 40.0]]
    assert [e["name"] for e in g["worker_events"]] == ["joined", "joined", "missing", "joined", "quit", "quit"]
    assert g["worker_events"][2]["t_s"] == 34.0
    assert any("load worker r1: heartbeat lost from 30.0 s to 40.0 s" in n for n in result["notes"])
    assert read_result(result)[1] == []                       # the result model declares every new field


def test_an_outage_outside_the_gap_still_fails(tmp_path: Path) -> None:
    run = cut_off_worker(tmp_path)
    run.stream(every=0.1, start=10.0, end=20.0, worker="r3", outcome=lambda t: "fail")
    run.history = [h for h in run.history if not (h["worker"] == "r1" and 10.0 <= h["invoke"] - T0 < 20.0)]
    run.final_from_history()
    result = run.judge(*BUDGETS)
    outage = result["budgets"][0]
    assert outage["passed"] is False and outage["observed"] == pytest.approx(10.0, abs=0.02)
    assert outage["detail"].startswith("judged outside the load workers' gaps (30.0-40.0 s)")
    assert result["verdict"] == "fail"


def test_an_outage_running_into_the_gap_is_cut_at_its_edge(tmp_path: Path) -> None:
    run = cut_off_worker(tmp_path, fail_from=25.0, fail_to=40.0)   # the system failed 5 s before r1 went
    run.final_from_history()
    result = run.judge(Budget("longest_outage_s", max=4), Budget("longest_outage_s", max=6))
    tight, loose = result["budgets"]
    assert tight["passed"] is False and tight["observed"] == pytest.approx(5.0, abs=0.02)
    assert loose["passed"] is None      # 5 s seen before the gap; what happened inside it is unknown
    assert [(o["start"], o["end"]) for o in result["availability"]["outages"]] == [(25.0, 30.0)]


def test_a_budget_whose_phase_misses_the_gap_is_judged_as_before(tmp_path: Path) -> None:
    run = cut_off_worker(tmp_path)
    run.final_from_history()
    result = run.judge(Budget("success_ratio", min=0.99, phase="before_fault"),
                       Budget("latency_p99_ms", max=100, phase="warmup"))
    assert [b["passed"] for b in result["budgets"]] == [True, True]
    assert "inconclusive" not in result["budgets"][0]["detail"]


def test_recovery_through_a_gap_is_unknown(tmp_path: Path) -> None:
    run = cut_off_worker(tmp_path, fail_from=30.0, fail_to=45.0)
    run.final_from_history()
    result = run.judge(Budget("recovery_s", max=5))
    rec = result["budgets"][0]
    assert rec["passed"] is None and "not an outage" in rec["detail"]


def test_a_failover_seen_through_a_gap_fails_no_more_but_a_pass_stands(tmp_path: Path) -> None:
    run = cut_off_worker(tmp_path)          # r1's purchases fail 30-40: the first one after the failover at 40
    for k in range(120):
        t = k * 0.5
        run.probe(t, "pg1" if t < 30.0 else None if t < 33.0 else "pg2")
    run.final_from_history()
    result = run.judge(Budget("failover_s", max=5), Budget("failover_s", max=15))
    (failover,) = result["availability"]["failovers"]
    assert failover["failover_s"] == pytest.approx(10.0, abs=0.1)
    tight, loose = result["budgets"]
    assert tight["passed"] is None and "not an outage" in tight["detail"]
    assert loose["passed"] is True


def test_a_lost_worker_is_a_gap_to_load_stop_and_a_normal_quit_none(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    worker_line(run, -1.0, "joined", "r1", offset=0.5)
    worker_line(run, -1.0, "joined", "r2", offset=-0.25)
    worker_line(run, -1.0, "joined", "r3")
    worker_line(run, 24.0, "missing", "r1")         # its load was gone ~4 s before the master could tell
    worker_line(run, 60.2, "lost", "r1")
    worker_line(run, 50.0, "quit", "r2")           # left 10 s early
    worker_line(run, 59.0, "quit", "r3")           # the ordinary end (within QUIT_GRACE_S)
    worker_line(run, 5.0, "lost", "r4")            # lost without a `missing` line: from load start
    window = RunWindow(t0=at(0), t_end=at(60))
    records = {r.name: r for r in worker_records(run.events, window)}
    assert [(g.start - T0, g.end - T0, g.why) for g in records["r1"].gaps] == [
        pytest.approx((20.0, 60.0, "missing"))]
    assert records["r1"].end == "lost" and records["r1"].offset_s == 0.5
    assert [(round(g.start - T0, 3), g.why) for g in records["r2"].gaps] == [(50.0, "quit")]
    assert records["r3"].gaps == [] and records["r3"].end == "quit" and records["r3"].offset_s is None
    assert [(g.start - T0, g.why) for g in records["r4"].gaps] == [(0.0, "lost")]
    assert load_gaps(list(records.values())) == [(at(0), at(60))]


def test_quits_at_the_due_end_are_no_gap_even_long_before_load_stopped(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")             # its phases end at 60 s; the harness wrote load_stopped at 80 s
    for w in ("r1", "r2"):
        worker_line(run, -1.0, "joined", w, offset=0.0)
    worker_line(run, 59.5, "quit", "r1")
    worker_line(run, 61.0, "quit", "r2")
    window = RunWindow(t0=at(0), t_end=at(80))
    assert all(r.gaps == [] for r in worker_records(run.events, window))
    run.events.append({"t": at(30.0), "kind": "abort", "reason": "error_ratio"})
    worker_line(run, 25.0, "quit", "r3")    # well before the abort: early
    worker_line(run, 31.0, "quit", "r4")    # the abort stopped the load
    records = {r.name: r for r in worker_records(run.events, window)}
    assert [(g.start - T0, g.end - T0, g.why) for g in records["r3"].gaps] == [pytest.approx((25.0, 80.0, "quit"))]
    assert records["r4"].gaps == []


def test_after_a_rejoin_the_gap_lasts_until_the_users_are_back(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    for t in range(60):
        users = 5 if 30 <= t < 44 else 10        # r1's 5 users gone at 30; back one by one until 44
        run.stats.append({"t": at(t), "worker": "master", "ok": 10, "fail": 0, "info": 0, "offered_rate": 10.0,
                          "target_rate": 10.0, "users": users, "cpu_percent": 10.0})
    worker_line(run, 34.2, "missing")
    worker_line(run, 40.5, "joined", offset=0.0)
    window = RunWindow(t0=at(0), t_end=at(60))
    (rec,) = worker_records(run.events, window, run.stats)
    assert [(round(g.start - T0, 3), round(g.end - T0, 3), g.why) for g in rec.gaps] == [
        (30.2, 40.5, "missing"), (40.5, 45.0, "ramp")]


def test_the_gap_does_not_make_the_generator_saturated(tmp_path: Path) -> None:
    run = cut_off_worker(tmp_path)
    for t in range(60):
        gone = 30 <= t < 40
        run.stat(float(t), offered=5.0 if gone else 10.0, ok=5 if gone else 10)
    run.final_from_history()
    result = run.judge(*BUDGETS)
    assert result["generator"]["saturated"] is False
    assert result["generator"]["healthy_seconds"] < 50


def test_outage_pieces_outside_the_gaps() -> None:
    o = Outage("purchase", 10.0, 20.0, open=True)
    pieces = outside(o, [(12.0, 15.0), (19.95, 30.0)])
    assert [(p.start, p.end, p.open) for p in pieces] == [(10.0, 12.0, False), (15.0, 19.95, False)]
    assert outside(o, [(5.0, 25.0)]) == []
    assert subtract([(0.0, 10.0), (20.0, 30.0)], [(5.0, 22.0)]) == [(0.0, 5.0), (22.0, 30.0)]


# clock offsets --------------------------------------------------------------------------------------------------

def test_clock_offsets_from_the_latest_join(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    worker_line(run, -1.0, "joined", "r1", offset=1.0)
    worker_line(run, 30.0, "joined", "r1", offset=2.5)          # a rejoin measures again
    worker_line(run, -1.0, "joined", "r2", offset=0.0001)       # below the history's precision
    worker_line(run, -1.0, "joined", "r3")                      # no measurement
    run.events.append({"t": at(1), "kind": "worker", "name": "joined", "worker": "r4", "offset_s": 1e9})
    assert clock_offsets(run.events) == {"r1": 2.5, "r2": 0.0001}
    paths = [tmp_path / n for n in ("history.jsonl", "history-r1.jsonl", "history-r2.jsonl", "history-r3.jsonl")]
    assert history_shifts(paths, run.events) == {tmp_path / "history-r1.jsonl": 2.5}
    assert worker_of(paths[1]) == "r1" and worker_of(paths[0]) is None
    assert corrected(at(10.0) + 2.5, 2.5) == at(10.0)
    stats = [{"t": at(12.0), "worker": "r1", "users": 5}, {"t": at(12.0), "worker": "w0", "users": 5}]
    assert [s["t"] for s in corrected_stats(stats, run.events)] == [at(9.5), at(12.0)]
    assert corrected_stats(stats, []) is stats


def test_a_worker_clock_ahead_by_2_5_s_has_its_history_shifted(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.1, worker="r1", outcome=lambda t: "fail" if 30.0 <= t < 35.0 else "ok")
    run.stream("browse", every=1.0, worker="r2")
    for line in run.history:
        if line["worker"] == "r1":                      # r1's clock runs 2.5 s ahead of the master's
            line["invoke"], line["complete"] = round(line["invoke"] + 2.5, 3), round(line["complete"] + 2.5, 3)
    worker_line(run, -1.0, "joined", "r1", offset=2.5)
    worker_line(run, -1.0, "joined", "r2", offset=0.0)
    run.final_from_history()
    result = run.judge(Budget("longest_outage_s", max=10))
    outage = result["availability"]["outages"][0]
    assert (outage["start"], outage["end"]) == pytest.approx((30.0, 35.01))
    assert result["availability"]["window"]["load_started"] == at(0)
    assert not any("outside the load window" in n for n in result["notes"])


# the report -----------------------------------------------------------------------------------------------------

def test_the_report_shows_a_worker_table_and_a_note_per_event(tmp_path: Path) -> None:
    run = cut_off_worker(tmp_path)
    run.final_from_history()
    run_dir = run.write()
    write_result(run_dir, judge(run_dir, scenario(*BUDGETS)))
    html = render_run(run_dir)[0].read_text()
    assert 'id="workers"' in html and 'data-inconclusive="yes"' in html
    assert "worker r1 went missing (heartbeat lost): availability from here to its return is inconclusive" in html
    assert "no heartbeat for 3 s" in html
    assert html.count("worker r2 joined (clock +0.000 s from the master") == 1
    assert "load worker r1: heartbeat lost from 30.0 s to 40.0 s" in html      # the note up top


def test_no_worker_section_without_workers(tmp_path: Path) -> None:
    run = cut_off_worker(tmp_path, with_worker_lines=False)
    run.final_from_history()
    assert workers_html(run.judge(*BUDGETS)["generator"]) == ""
