"""Reading a run directory and putting it on one time axis: tolerant, and correct on small known inputs."""

from __future__ import annotations

import json
from pathlib import Path

from drills.report import timeline as tl
from drills.report.fmt import duration, limit_text, num, percent, when
from drills.report.headline import judge
from drills.report.sources import load_run, read_lines

T0 = 1764150000.0


def test_truncated_last_line_is_skipped_and_named(tmp_path: Path) -> None:
    p = tmp_path / "history.jsonl"
    p.write_text('{"op": "purchase"}\nnot json\n{"op": "browse"}\n{"op": "log')
    rows, notes = read_lines(p)
    assert [r["op"] for r in rows] == ["purchase", "browse"]
    assert notes == ["history.jsonl: last line truncated (line 4, skipped)",
                     "history.jsonl: 1 unreadable line(s) skipped (line 2)"]


def test_missing_files_are_listed(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text('{"t": 1, "kind": "run", "name": "started"}\n')
    run = load_run(tmp_path)
    assert "result.json" in run.missing and "history*.jsonl" in run.missing and "events.jsonl" not in run.missing
    assert load_run(tmp_path / "nope").problems


def test_series_from_history_counts_outcomes_and_fills_gaps() -> None:
    h = [{"invoke": T0 + 0.1, "complete": T0 + 0.2, "outcome": "ok"},
         {"invoke": T0 + 0.3, "complete": T0 + 0.9, "outcome": "fail"},
         {"invoke": T0 + 2.0, "complete": T0 + 3.5, "outcome": "info"}]
    s = tl.series_from_history(h, T0)
    assert [r["t"] for r in s] == [0.0, 1.0, 2.0, 3.0]
    assert (s[0]["ok"], s[0]["fail"], s[0]["success_ratio"]) == (1, 1, 0.5)
    assert s[1]["success_ratio"] is None and s[3]["info"] == 1
    assert round(s[0]["p99_ms"]) == 100 and s[2]["p99_ms"] is None  # latency of acknowledged operations only


def test_series_from_stats_sums_workers() -> None:
    stats = [{"t": T0 + 1, "worker": w, "ok": 5, "fail": 1, "info": 0, "p99_ms": p}
             for w, p in (("w0", 10), ("w1", 30))]
    s = tl.series_from_stats(stats, T0)
    assert s == [{"t": 1.0, "ok": 10, "fail": 2, "info": 0, "p50_ms": None, "p99_ms": 30.0,
                  "success_ratio": 10 / 12}]


def test_offsets_accept_epoch_or_seconds() -> None:
    assert tl.to_offset(T0 + 5, T0) == 5 and tl.to_offset(5, T0) == 5
    assert tl.to_offset("2025-11-26T09:40:05+00:00", T0) == 5
    assert tl.to_offset(None, T0) is None and tl.to_offset(T0, None) is None


def test_outages_are_gaps_between_successes_with_failures() -> None:
    def op(t: float, outcome: str) -> dict:
        return {"op": "purchase", "invoke": T0 + t - 0.01, "complete": T0 + t, "outcome": outcome}

    h = [op(1, "ok"), op(2, "ok"), op(2.5, "fail"), op(5, "info"), op(7, "ok"), op(8, "ok"), op(8.2, "fail"),
         op(8.4, "ok"), op(9, "fail"), op(12, "fail")]
    out = tl.derive_outages(h, T0)
    assert [(round(o.start_s, 3), round(o.end_s, 3), o.open) for o in out] == [(2, 7, False), (8.4, 12, True)]


def test_fault_intervals_pair_inject_and_heal_per_iteration(tmp_path: Path) -> None:
    ev = [{"t": T0, "kind": "run", "name": "load_started"}]
    for it, (a, b) in enumerate(((10, 15), (30, None))):
        ev.append({"t": T0 + a, "kind": "fault", "phase": "inject", "fault_id": "flip", "type": "isolate",
                   "target": {"service": "pg2", "role": "leader"}, "scheduled_s": a, "offset_s": a + 0.01,
                   "iteration": it, "ok": True})
        if b:
            ev.append({"t": T0 + b, "kind": "fault", "phase": "heal", "fault_id": "flip", "iteration": it,
                       "ok": False, "error": "iptables: busy"})
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ev))
    run = load_run(tmp_path)
    faults = tl.fault_intervals(run, tl.origin(run))
    assert [(f.key, f.start_s, f.end_s) for f in faults] == [("flip-0", 10.01, 15.0), ("flip-1", 30.01, None)]
    assert faults[0].target == "pg2 (leader)" and faults[0].heal_ok is False


def test_role_segments_merge_and_classify() -> None:
    def probe(t: float, pg1: dict, cut: list) -> dict:
        return {"t": T0 + t, "leader": "pg1" if pg1.get("role") == "leader" else None, "nodes": {"pg1": pg1},
                "cut_off": cut}

    leader = {"container": "running", "role": "leader", "patroni_state": "running"}
    probes = [probe(0, leader, []), probe(0.5, leader, []), probe(1.0, {"container": "paused", "role": "leader"}, []),
              probe(1.5, {"container": "exited"}, []), probe(2.0, leader, ["pg1"]), probe(10.0, leader, ["pg1"])]
    segs = tl.role_segments(probes, T0)["pg1"]
    assert [(s.start_s, s.state, s.cut_off) for s in segs] == [(0, "leader", False), (1.0, "frozen", False),
                                                              (1.5, "down", False), (2.0, "leader", True),
                                                              (10.0, "leader", True)]
    assert segs[0].width_s == 1.0 and segs[3].width_s == tl.PROBE_GAP_S  # a long probe gap is not papered over
    leaders = tl.leader_segments(probes, T0)
    assert [x[2] for x in leaders] == ["pg1", None, "pg1", "pg1"]  # the probe gap splits the last run


def test_formatting() -> None:
    assert num(None) == "—" and num(3.0, "s") == "3 s" and num(12.34, "s") == "12.3 s" and num(0.5) == "0.5"
    assert percent(0.99996) == "99.996 %" and percent(1) == "100 %" and percent(0.75) == "75 %"
    assert duration(42) == "42 s" and duration(185) == "3 min 05 s"
    assert when(T0) == "2025-11-26 09:40:00 UTC" and when(None) == "—"
    assert limit_text({"metric": "success_ratio", "limit": 0.999}) == "≥ 99.90 %"
    assert limit_text({"metric": "recovery_s", "min": 1, "max": 5}) == "≥ 1 s and ≤ 5 s"
    assert limit_text({"metric": "lost", "limit": 0, "op": "<="}) == "≤ 0"


def test_verdicts_for_a_reader() -> None:
    assert judge({"verdict": "pass"}).title == "PASS"
    assert judge({"verdict": "fail", "expected": "fail"}).ok
    assert not judge({"verdict": "fail", "expected": "fail", "self_test_passed": False}).ok
    v = judge({"verdict": "pass", "expected": "fail"})
    assert v.css == "fail" and "SELF-TEST FAILED" in v.title
    assert judge(None).verdict == "none" and judge({"verdict": "weird"}).css == "error"
    assert judge({"verdict": "inconclusive"}).css == "inconclusive"
