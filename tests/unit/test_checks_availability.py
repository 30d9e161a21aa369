"""Availability from the history: phases, success ratios, outages at phase edges, recovery, latency, burn."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from drills.checks.quantiles import percentiles, rank
from drills.scenario.model import Budget
from tests.unit.test_checks_builder import Run


def failing_between(a: float, b: float):
    return lambda t: "fail" if a <= t < b else "ok"


@pytest.fixture
def outage_run(tmp_path: Path) -> Run:
    """Purchases every 0.1 s for 60 s; all fail in [29, 35); the leader is killed at 30 and healed at 40."""
    run = Run(tmp_path / "run")
    run.stream(every=0.1, outcome=failing_between(29.0, 35.0))
    run.fault("kill-leader", 30.0, 40.0)
    return run


def test_phases_from_events(outage_run: Run) -> None:
    phases = outage_run.judge()["availability"]["phases"]
    assert phases == {"warmup": [[0.0, 10.0]], "steady": [[10.0, 50.0]], "recovery": [[50.0, 60.0]],
                      "before_fault": [[0.0, 30.0]], "during_fault": [[30.0, 40.0]], "after_heal": [[40.0, 60.0]]}


def test_phases_fall_back_to_the_scenario(tmp_path: Path) -> None:
    run = Run(tmp_path / "run", phases=None)
    run.stream(end=5.0)
    result = run.judge()
    assert result["availability"]["phases"]["steady"] == [[10.0, 50.0]]
    assert any("phase events" in n for n in result["notes"])


def test_success_ratio_per_phase_and_op(outage_run: Run) -> None:
    outage_run.stream("browse", every=1.0)
    result = outage_run.judge(Budget("success_ratio", min=0.99, phase="before_fault"),
                              Budget("success_ratio", min=0.99, phase="during_fault"),
                              Budget("success_ratio", min=0.99, op="browse"))
    av = result["availability"]
    assert (av["ok"], av["fail"], av["info"]) == (540, 60, 0)
    assert av["per_phase"]["during_fault"]["fail"] == 50
    assert av["per_op"]["browse"]["success_ratio"] == 1.0
    assert av["per_op"]["all"]["ok"] == 600
    assert [b["passed"] for b in result["budgets"]] == [False, False, True]
    assert result["budgets"][0]["observed"] == pytest.approx(290 / 300)


def test_outage_is_clipped_at_phase_edges(outage_run: Run) -> None:
    result = outage_run.judge(*(Budget("longest_outage_s", max=100, phase=p)
                                for p in ("all", "before_fault", "during_fault", "after_heal", "steady")))
    observed = [b["observed"] for b in result["budgets"]]
    # last success completes at 28.91, the first attempt after it starts at 29.0, the next success at 35.01
    assert observed == pytest.approx([6.01, 1.0, 5.01, 0.0, 6.01])
    outage = result["availability"]["outages"][0]
    assert (outage["op"], outage["start"], outage["end"], outage["open"]) == ("purchase", 29.0, 35.01, False)
    assert result["availability"]["longest_outage"] == {"start": 29.0, "end": 35.01, "open": False}


def test_outage_at_load_start_and_open_at_load_stop(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.1, outcome=lambda t: "fail" if t < 2.0 or t >= 55.0 else "ok")
    result = run.judge(Budget("longest_outage_s", max=3, phase="warmup"),
                       Budget("longest_outage_s", max=4, phase="recovery"),
                       Budget("longest_outage_s", max=6, phase="recovery"))
    outages = result["availability"]["outages"]
    assert [(o["start"], o["end"], o["open"]) for o in outages] == [(0.0, 2.01, False), (55.0, 60.0, True)]
    first, second, third = result["budgets"]
    assert first["observed"] == pytest.approx(2.01) and first["passed"] is True
    # still out at load stop: 5 s is a lower bound, so it fails a 4 s ceiling and cannot pass a 6 s one
    assert second["censored"] and second["passed"] is False
    assert third["passed"] is None


def test_no_attempts_is_not_an_outage_but_a_hanging_request_is(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=20.0)
    run.stream(start=25.0, end=40.0)       # nobody tried in [20, 25): no outage
    run.purchase("ok", 40.0, latency=4.0)  # one buyer waited 4 s for a success: that is an outage
    run.stream(start=44.1, end=60.0)
    result = run.judge(Budget("longest_outage_s", max=10))
    outages = result["availability"]["outages"]
    assert [(o["start"], o["end"]) for o in outages] == [(40.0, 44.0)]


def test_recovery_after_injection(outage_run: Run) -> None:
    result = outage_run.judge(Budget("recovery_s", max=10))
    rec = result["availability"]["recovery"][0]
    assert rec["recovery_s"] == 5.0 and rec["recovered"] and not rec["censored"]
    assert rec["first_success_s"] == pytest.approx(5.01)
    assert rec["from_heal_s"] == 0.0
    assert result["availability"]["recovery_s"] == 5.0
    assert result["faults"][0]["recovery_s"] == 5.0 and result["budgets"][0]["passed"] is True


def test_never_recovered_is_censored(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.1, outcome=failing_between(30.0, 60.0))
    run.fault("kill-leader", 30.0, 40.0)
    result = run.judge(Budget("recovery_s", max=20), Budget("recovery_s", max=40))
    rec = result["availability"]["recovery"][0]
    assert rec["recovery_s"] == 30.0 and rec["censored"] and not rec["recovered"]
    assert [b["passed"] for b in result["budgets"]] == [False, None]


def test_no_fault_makes_recovery_unknown(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=5.0)
    result = run.judge(Budget("recovery_s", max=20), Budget("success_ratio", min=0.9, phase="during_fault"))
    assert [b["passed"] for b in result["budgets"]] == [None, None]
    assert result["verdict"] == "inconclusive"


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))
    random.Random(1).shuffle(values)
    assert percentiles(values) == {"p50": 50, "p95": 95, "p99": 99}
    assert percentiles([7]) == {"p50": 7, "p95": 7, "p99": 7}
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}
    assert percentiles([1, 2, 3, 4], (25, 50, 75, 100)) == {"p25": 1, "p50": 2, "p75": 3, "p100": 4}
    assert rank(95, 20) == 19  # no float drift: 0.95 * 20 is exactly rank 19


def test_counting_path_equals_sorting_path() -> None:
    rng = random.Random(2)
    values = [int(rng.lognormvariate(3, 1)) for _ in range(50_000)]
    ordered = sorted(values)
    for p in (50, 90, 95, 99, 99.9):
        assert percentiles(values, (p,))[f"p{p:g}"] == ordered[rank(p, len(values)) - 1]


def test_latency_percentiles_per_phase(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    for k in range(100):
        run.purchase("ok", 11.0 + k * 0.1, latency=(k + 1) / 1000.0)  # 1..100 ms in steady
    run.purchase("ok", 1.0, latency=0.5)                                # one slow op in warmup
    run.purchase("fail", 12.0, latency=9.0)                             # failures have no latency
    result = run.judge(Budget("latency_p99_ms", max=99, phase="steady"), Budget("latency_p99_ms", max=99))
    assert result["availability"]["per_phase"]["steady"]["latency_ms"] == {"p50": 50, "p95": 95, "p99": 99}
    assert result["availability"]["per_phase"]["warmup"]["latency_ms"]["p50"] == 500
    assert [b["passed"] for b in result["budgets"]] == [True, False]


def test_error_budget_burn(outage_run: Run) -> None:
    result = outage_run.judge(Budget("error_budget_burn", max=0.05))
    eb = result["availability"]["error_budget"]
    # 60 bad of 600 operations over a 60 s drill = 6 s of full outage; 30 days at 99.99 % allow 259.2 s
    assert (eb["bad_ops"], eb["total_ops"], eb["bad_seconds"], eb["allowed_seconds"]) == (60, 600, 6.0, 259.2)
    assert eb["burn"] == pytest.approx(6.0 / 259.2, rel=1e-4)
    assert eb["burn_rate"] == pytest.approx(0.1 / 0.0001)
    assert result["budgets"][0]["passed"] is True


def test_series_per_second(outage_run: Run) -> None:
    series = outage_run.judge()["availability"]["series"]
    assert len(series) == 60
    assert series[0] == {"t": 0, "ok": 10, "fail": 0, "info": 0, "p50_ms": 10, "p99_ms": 10, "success_ratio": 1.0}
    assert series[30]["fail"] == 10 and series[30]["success_ratio"] == 0.0 and series[30]["p50_ms"] is None
    assert sum(r["ok"] for r in series) == 540


def test_operations_outside_the_load_window_are_left_out(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=10.0)
    run.purchase("fail", -5.0)  # a setup call before load start
    result = run.judge()
    assert result["availability"]["fail"] == 0
    assert result["audit"]["attempted"] == 101
    assert any("outside the load window" in n for n in result["notes"])


def test_business_rejections_are_served_not_outages(tmp_path: Path) -> None:
    """409 seat taken / sold out is the system answering: not unavailability, but never acknowledged."""
    run = Run(tmp_path / "run")
    for k in range(600):
        t = k * 0.1
        if 20.0 <= t < 40.0:
            run.purchase("fail", t=t, status=409, error="seats_unavailable")
        else:
            run.purchase("ok", t=t)
    run.purchase("fail", t=45.0, status=503, error="unavailable")
    result = run.judge(Budget("success_ratio", min=0.99), Budget("longest_outage_s", max=1.0))
    av = result["availability"]
    assert av["success_ratio"] > 0.99
    assert av["longest_outage_s"] < 1.0
    assert result["audit"]["acknowledged"] == 400  # the refused ones did not happen
