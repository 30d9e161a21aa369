"""The console: live progress (rich on a terminal, throttled plain lines elsewhere) and the final summaries."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

from rich.console import Console

from drills.report import LiveView, compare_runs, print_compare, print_summary
from drills.report.compare import change_text
from drills.report.fmt import num

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "runs"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _update(view: LiveView, elapsed: float, faults: list[str] | None = None) -> None:
    view.update(phase="steady", elapsed_s=elapsed, rps=120.0, error_pct=2.5, p99_ms=380.0,
                active_faults=faults or [], leader="pg2")


def test_plain_output_at_most_every_five_seconds() -> None:
    buf = io.StringIO()
    clock = FakeClock()
    console = Console(file=buf, force_terminal=False, width=200)
    with LiveView(console, quiet=False, total_s=90, clock=clock) as live:
        assert not live.interactive
        for i in range(40):  # four updates a second for ten seconds
            clock.now = i * 0.25
            _update(live, clock.now, ["kill-leader"] if i > 20 else [])
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0] == "[   0/90 s] steady     120.0 ops/s  errors   2.5 %  p99 380 ms  leader pg2  faults: none"
    assert "faults: kill-leader" not in lines[0] and lines[1].startswith("[   5/90 s]")


def test_quiet_on_a_terminal_is_plain_too() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    with LiveView(console, quiet=True, total_s=10, clock=FakeClock()) as live:
        _update(live, 1.0)
    assert "\x1b[" not in buf.getvalue() and "ops/s" in buf.getvalue()


def test_live_panel_on_a_terminal() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    live = LiveView(console, quiet=False, total_s=60)
    _update(live, 0.5)  # before entering: ignored, no crash
    with live:
        assert live.interactive
        _update(live, 30.0, ["kill-leader", "slow-db-link"])
        live.update("recovery", 59.0, 0.0, 100.0, None, [], None)
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())  # without colours and cursor moves
    assert "faults: kill-leader, slow-db-link" in out and "drill · recovery" in out and "leader none" in out
    assert "30 / 60 s" in out and "errors 2.5 %" in out


def test_summary_of_a_failed_run() -> None:
    buf = io.StringIO()
    result = json.loads((FIXTURES / "fail" / "result.json").read_text())
    print_summary(Console(file=buf, width=160), result)
    out = buf.getvalue()
    assert out.startswith("FAIL  leader-kill-async")
    assert "lost[purchase,all]" in out and "FAIL" in out and "acknowledged purchases; " in out
    assert f"failover {num(result['availability']['failover_s'], 's')}" in out
    assert "lost 2" in out and "oversold 1" in out


def test_summary_of_partial_or_empty_results() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=120)
    print_summary(console, {})
    print_summary(console, {"verdict": "pass", "budgets": [None, {"passed": None}], "audit": {"lost": "x"},
                            "availability": {"latency_ms": None}, "notes": ["n1"], "missing_files": ["probes.jsonl"]})
    print_summary(console, None)
    out = buf.getvalue()
    assert "NO VERDICT" in out and "PASS" in out and "probes.jsonl" in out and "n1" in out


def test_compare_console_table(tmp_path: Path) -> None:
    for kind in ("pass", "fail"):
        shutil.copytree(FIXTURES / kind, tmp_path / kind)
    diff = compare_runs(tmp_path / "pass", tmp_path / "fail", None)
    buf = io.StringIO()
    print_compare(Console(file=buf, width=160), diff)
    out = buf.getvalue()
    a, b = (json.loads((FIXTURES / k / "result.json").read_text())["availability"]["failover_s"]
            for k in ("pass", "fail"))
    assert change_text("failover_s", a, b)[2] in out and "now fails; +2 (worse)" in out
    print_compare(Console(file=io.StringIO()), {})  # nothing to show, no crash
