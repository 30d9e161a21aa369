"""Reading the run directory tolerantly: truncated and garbled lines, missing files, several load processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.checks import history as history_module
from drills.checks import judge
from drills.checks.inputs import read_run
from drills.rundir import tolerant as reader_module
from drills.scenario.model import Budget
from tests.unit.test_checks_builder import T0, Run, scenario


def test_truncated_last_history_line_is_skipped_and_noted(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=5.0)
    run.final_from_history()
    result = run.judge(Budget("lost", max=0), truncate_last="history.jsonl")
    assert result["verdict"] == "pass"
    assert result["checks"]["operations"] == 49
    assert any("history.jsonl:50: truncated last line" in n for n in result["notes"])


def test_truncated_last_event_line_is_tolerated(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=5.0)
    result = run.judge(truncate_last="events.jsonl")  # load_stopped was being written: the window falls back
    assert result["verdict"] == "error"  # the runner died; what was recorded is still judged below
    assert any("load_stopped" in r for r in result["verdict_reasons"])
    assert result["availability"]["window"]["duration_s"] == 4.91
    assert any("events.jsonl" in n and "truncated" in n for n in result["notes"])
    assert any("no load_stopped event" in n for n in result["notes"])


def test_garbled_line_in_the_middle_is_skipped(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=1.0)
    out = run.write()
    lines = (out / "history.jsonl").read_text().splitlines(keepends=True)
    lines.insert(3, "not json at all\n")
    lines.insert(5, "[1, 2]\n")
    lines.insert(7, '{"op": "purchase"}\n')
    (out / "history.jsonl").write_text("".join(lines))
    data = read_run(out)
    assert data.history is not None and data.history.count() == 10
    assert [n for n in data.problems.notes if "not a JSON object" in n] == [
        "history.jsonl:4: not a JSON object, skipped", "history.jsonl:6: not a JSON object, skipped"]
    assert "history.jsonl: `complete` not a time: line skipped (1 line(s): line 8 (missing))" in data.problems.notes


def test_missing_files_are_listed_not_raised(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=1.0)
    out = run.write()
    for name in ("stats.jsonl", "meta.json", "events.jsonl"):
        (out / name).unlink()
    data = read_run(out)
    assert set(data.problems.missing_files) == {"stats.jsonl", "meta.json", "events.jsonl", "probes.jsonl",
                                                "final-state.json", "scenario.yaml"}
    assert data.window.t0 == pytest.approx(T0) and data.history is not None


def test_no_history_at_all_is_an_error(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    out = run.write()
    (out / "history.jsonl").unlink()
    result = judge(out, scenario(Budget("lost", max=0)))
    assert result["verdict"] == "error"
    assert "history*.jsonl" in result["missing_files"]
    assert any("no history" in r for r in result["verdict_reasons"])


def test_an_empty_history_is_an_error(tmp_path: Path) -> None:
    result = Run(tmp_path / "run").judge()
    assert result["verdict"] == "error"
    assert any("recorded no operation" in r for r in result["verdict_reasons"])


def test_workers_files_are_merged(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    for w in range(3):
        run.stream(end=10.0, every=0.3, worker=f"w{w}", outcome=lambda t: "fail" if 4 <= t < 6 else "ok")
    out = run.write()
    assert sorted(p.name for p in out.glob("history*.jsonl")) == ["history-w0.jsonl", "history-w1.jsonl",
                                                                  "history-w2.jsonl"]
    result = run.judge(Budget("longest_outage_s", max=10))
    assert result["checks"]["operations"] == 3 * 33
    # the last success completes at 3.91; every worker's next attempt starts at 4.2
    assert result["availability"]["outages"][0]["start"] == pytest.approx(4.2)


def test_text_numbers_and_null_invoke_are_survived(tmp_path: Path) -> None:
    run = Run(tmp_path / "run")
    run.stream(end=1.0)
    run.history[2]["complete"] = str(run.history[2]["complete"])
    run.history[3]["invoke"] = None
    run.history[4]["outcome"] = "weird"
    result = run.judge()
    assert result["checks"]["operations"] == 10
    assert result["availability"]["info"] == 1
    assert any("unknown outcome" in n for n in result["notes"])


def test_stdlib_json_gives_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run(tmp_path / "run")
    run.stream(every=0.1, outcome=lambda t: "info" if 20 <= t < 22 else "ok")
    run.final_from_history()
    fast = run.judge(truncate_last="history.jsonl")
    monkeypatch.setattr(history_module, "loads", json.loads)
    monkeypatch.setattr(reader_module, "loads", json.loads)
    monkeypatch.setattr(history_module, "DECODE_ERRORS", (ValueError, TypeError))
    monkeypatch.setattr(reader_module, "DECODE_ERRORS", (ValueError, TypeError))
    slow = run.judge(truncate_last="history.jsonl")
    for key in ("verdict", "audit", "availability", "notes"):
        assert fast[key] == slow[key], key
