"""Live progress while a drill runs: a rich panel on a terminal, a plain line at most every 5 s otherwise
(CI logs, pipes, --quiet), so logs stay readable and small."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from drills.report.terminal import plain

PLAIN_EVERY_S = 5.0


class LiveView:
    """`with LiveView(console, quiet, total_s) as live: live.update(...)`; safe to update before entering.

    The leader is shown once the probes have named one: a system without a leader (or whose leader drills cannot
    see) is never shown "leader none" all along."""

    def __init__(self, console: Console, quiet: bool, total_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.total_s = max(float(total_s or 0.0), 0.0)
        self.interactive = bool(console.is_terminal) and not quiet
        self._clock = clock
        self._live: Live | None = None
        self._last_plain: float | None = None
        self._state: dict = {"phase": "starting", "elapsed_s": 0.0, "rps": 0.0, "error_pct": 0.0, "p99_ms": None,
                             "active_faults": [], "leader": None}
        self._has_leader = False

    def __enter__(self) -> LiveView:
        if self.interactive:
            self._live = Live(self._panel(), console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._panel(), refresh=True)
            self._live.__exit__(None, None, None)
            self._live = None

    def update(self, phase: str, elapsed_s: float, rps: float, error_pct: float, p99_ms: float | None,
               active_faults: list[str], leader: str | None) -> None:
        """Record the latest numbers; redraw the panel, or print a plain line if 5 s have passed."""
        self._has_leader = self._has_leader or bool(leader)
        self._state = {"phase": plain(phase, oneline=True), "elapsed_s": elapsed_s, "rps": rps,
                       "error_pct": error_pct, "p99_ms": p99_ms,
                       "active_faults": [plain(f, oneline=True) for f in active_faults or []],
                       "leader": plain(leader, oneline=True) if leader else None}
        if self._live is not None:
            self._live.update(self._panel(), refresh=True)
            return
        if self.interactive:
            return  # not entered yet: nothing to draw on
        now = self._clock()
        if self._last_plain is None or now - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = now
            self.console.print(self.plain_line(), markup=False, highlight=False, soft_wrap=True)

    def plain_line(self) -> str:
        """One log line with the current state, e.g. '[ 42/90 s] steady  120 ops/s  errors 2.1 %  …'."""
        s = self._state
        total = f"/{self.total_s:.0f}" if self.total_s else ""
        p99 = f"{s['p99_ms']:.0f} ms" if s["p99_ms"] is not None else "—"
        faults = ", ".join(s["active_faults"]) or "none"
        leader = f"  leader {s['leader'] or 'none'}" if self._has_leader else ""
        return (f"[{s['elapsed_s']:4.0f}{total} s] {s['phase']:<9} {s['rps']:6.1f} ops/s  errors "
                f"{s['error_pct']:5.1f} %  p99 {p99}{leader}  faults: {faults}")

    def _panel(self) -> Panel:
        s = self._state
        grid = Table.grid(padding=(0, 2))
        grid.add_column(ratio=1)
        grid.add_column(justify="right")
        total = self.total_s or max(s["elapsed_s"], 1.0)
        grid.add_row(ProgressBar(total=total, completed=min(s["elapsed_s"], total)),
                     Text(f"{s['elapsed_s']:.0f} / {total:.0f} s"))
        err_style = "red" if s["error_pct"] >= 5 else "yellow" if s["error_pct"] > 0 else "green"
        p99 = f"{s['p99_ms']:.0f} ms" if s["p99_ms"] is not None else "—"
        numbers = Text.assemble((f"{s['rps']:.1f}", "bold"), " ops/s   errors ",
                                (f"{s['error_pct']:.1f} %", err_style), "   p99 ", (p99, "bold"))
        if self._has_leader:
            numbers.append("   leader ")
            numbers.append(s["leader"] or "none", "bold" if s["leader"] else "red")
        faults = (Text("faults: " + ", ".join(s["active_faults"]), style="bold red") if s["active_faults"]
                  else Text("faults: none", style="dim"))
        return Panel(Group(grid, numbers, faults), title=Text(f"drill · {s['phase']}"), title_align="left")
