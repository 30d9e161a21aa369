"""Abort conditions: stop a drill that is doing real harm (error ratio, latency, a failing probe) over a
sliding window, or that one of the scenario's `alerts.abort_on` alerts fires (a stop condition, as AWS FIS
and Gremlin users know them), instead of waiting for the end. Checked by the runner a few times a second."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from drills.rundir import files
from drills.rundir.codec import DECODE_ERRORS, loads
from drills.scenario.model import AbortCondition


class AbortWatch:
    def __init__(self, conditions: list[AbortCondition], run_dir: Path, refresh_s: float = 1.0,
                 abort_on: Sequence[str] = ()) -> None:
        self.conditions = conditions
        self.alerts = AlertStop(abort_on, run_dir / files.ALERTS) if abort_on else None
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
        return self.alerts.check() if self.alerts is not None else None

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


class AlertStop:
    """`alerts.abort_on`: the reason to stop once one of these alerts fires, read from alerts.jsonl as the alert
    watch appends it (a `state` line turning firing, or a firing notification). The record is the one source:
    the stop reason and the report's alert lane agree. An alert that already fired before this watch began (one
    allowed at start) does not stop the drill; only a firing that starts after it does."""

    def __init__(self, names: Sequence[str], path: Path, since: float | None = None) -> None:
        self.names = frozenset(names)
        self.path = path
        self.since = time.time() if since is None else since
        self._offset = 0
        self._partial = b""

    def check(self) -> str | None:
        for line in self._new_lines():
            reason = self._fires(line)
            if reason:
                return reason
        return None

    def _new_lines(self) -> list[dict]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return []   # no record yet: nothing fired that we know of
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        out = []
        for raw in complete:
            try:
                obj = loads(raw)
            except DECODE_ERRORS:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def _fires(self, line: dict) -> str | None:
        name = line.get("alertname")
        if name not in self.names:
            return None
        if line.get("kind") == "state" and line.get("state") == "firing":
            began = line.get("t")              # seen turning firing (its active_at is when it became pending)
        elif line.get("kind") == "notification" and line.get("status") == "firing":
            began = line.get("starts_at") or line.get("t")   # a repeat of an older firing has an old startsAt
        else:
            return None
        if isinstance(began, (int, float)) and not isinstance(began, bool) and began < self.since:
            return None
        how = "Prometheus reports it firing" if line.get("kind") == "state" else "a firing notification arrived"
        return f"alert {name} fired ({how}); it is in alerts.abort_on"
