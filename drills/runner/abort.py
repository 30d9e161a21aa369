"""Abort conditions: stop a drill that is doing real harm (error ratio, latency, a failing probe) over a
sliding window, instead of waiting for the end. Checked by the runner a few times a second."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from drills.scenario.model import AbortCondition


class AbortWatch:
    def __init__(self, conditions: list[AbortCondition], run_dir: Path, refresh_s: float = 1.0) -> None:
        self.conditions = conditions
        self.run_dir = run_dir
        self.refresh_s = refresh_s
        self.last_stats: dict = {}
        self._next = 0.0
        self._probe_bad_since: dict[str, float] = {}
        self._window = max([c.window for c in conditions] + [5.0])
        self._recent: deque = deque()

    def check(self, probe: dict | None) -> str | None:
        """The reason to abort now, or None."""
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.refresh_s
            self._refresh_stats()
        for cond in self.conditions:
            reason = self._evaluate(cond, probe or {}, now)
            if reason:
                return reason
        return None

    def _refresh_stats(self) -> None:
        from drills.load.livestats import live_stats  # harness-side reader of stats.jsonl

        try:
            self.last_stats = live_stats(self.run_dir, since=time.time() - 5) or {}
            self._windows = {c.window: live_stats(self.run_dir, since=time.time() - c.window) or {}
                             for c in self.conditions if c.metric != "probe_failing"}
        except Exception:
            self._windows = {}

    def _evaluate(self, cond: AbortCondition, probe: dict, now: float) -> str | None:
        if cond.metric in ("error_ratio", "p99_ms"):
            stats = getattr(self, "_windows", {}).get(cond.window) or {}
            if cond.metric == "error_ratio":
                value = (stats.get("error_pct") or 0.0) / 100.0
            else:
                value = stats.get("p99_ms")
            if value is not None and cond.above is not None and value > cond.above and stats.get("requests", 1) > 0:
                return f"{cond.metric} {value:.3g} above {cond.above:g} over the last {cond.window:g}s"
            return None
        bad = _probe_bad(cond.probe or "no_leader", probe)
        key = cond.probe or "no_leader"
        if not bad:
            self._probe_bad_since.pop(key, None)
            return None
        since = self._probe_bad_since.setdefault(key, now)
        if now - since >= cond.window:
            return f"probe {key} failing for {now - since:.0f}s"
        return None


def _probe_bad(name: str, probe: dict) -> bool:
    if not probe:
        return False
    if name == "no_leader":
        return probe.get("leader") is None
    if name == "api_all_down":
        apis = [n for n in probe.get("nodes", {}).values() if n.get("role") == "api"]
        return bool(apis) and all(n.get("lb") != "UP" for n in apis)
    return False
