"""Remote load workers' clocks: how far each one's clock was from the master's, and so how much to take off
the times in its history file when the histories are merged.

A remote worker (`drill worker`) stamps its operations with its own clock. At join the master measured the
worker's offset by ping/pong (worker clock minus master clock, midpoint method) and wrote it in the `worker`
`joined` event of events.jsonl (docs/run-directory.md). The history reader subtracts that offset from every
`invoke` and `complete` of `history-<worker>.jsonl`, so an operation lands on the master's clock, the one the
faults, phases and probes are stamped with. A worker that joined more than once is corrected by its latest
measurement (a rejoin measures again); a worker without a measured offset, and every local process (same
clock), is left as it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

from drills.checks.damage import epoch

WORKER_EVENT = "worker"         # events.jsonl `kind` of the master's worker health lines
MAX_OFFSET_S = 3600.0           # a larger "offset" is a damaged line, not a clock: ignored
MIN_SHIFT_S = 0.0005            # below the history's millisecond precision: nothing to correct
_HISTORY_FILE = re.compile(r"history-(.+)\.jsonl")


def clock_offsets(events: Iterable[dict]) -> dict[str, float]:
    """worker -> its clock's offset from the master's (seconds, worker minus master), from the latest `joined`
    line of each worker with a usable `offset_s`."""
    latest: dict[str, tuple[float, float]] = {}
    for e in events:
        if e.get("kind") != WORKER_EVENT or e.get("name") != "joined":
            continue
        worker, raw, t = e.get("worker"), e.get("offset_s"), epoch(e.get("t"))
        offset = float(raw) if type(raw) is int or type(raw) is float else math.nan
        if type(worker) is not str or not math.isfinite(offset) or abs(offset) > MAX_OFFSET_S:
            continue
        when = t if t is not None else -math.inf
        if worker not in latest or when >= latest[worker][0]:
            latest[worker] = (when, offset)
    return {w: off for w, (_, off) in latest.items()}


def worker_of(path: Path) -> str | None:
    """The worker whose history a file is (`history-<worker>.jsonl`); None for a single process's history.jsonl."""
    m = _HISTORY_FILE.fullmatch(Path(path).name)
    return m.group(1) if m else None


def history_shifts(paths: Iterable[Path], events: Iterable[dict]) -> dict[Path, float]:
    """history file -> seconds to subtract from each of its times (only the files that need it)."""
    offsets = clock_offsets(events)
    out: dict[Path, float] = {}
    for path in paths:
        worker = worker_of(path)
        shift = offsets.get(worker) if worker is not None else None
        if shift is not None and abs(shift) >= MIN_SHIFT_S:
            out[Path(path)] = shift
    return out


def corrected(t: float, shift: float) -> float:
    """A worker's time on the master's clock, at the history's millisecond precision."""
    return round(t - shift, 3)


def corrected_stats(stats: list[dict], events: Iterable[dict]) -> list[dict]:
    """stats.jsonl's lines with each remote worker's `t` (its whole second, on its own clock) moved onto the
    master's clock like its history; the list itself when no worker measured an offset."""
    offsets = {w: off for w, off in clock_offsets(events).items() if abs(off) >= MIN_SHIFT_S}
    if not offsets:
        return stats
    out = []
    for s in stats:
        shift, t = offsets.get(s.get("worker")), s.get("t")  # type: ignore[arg-type]
        if shift is not None and (type(t) is float or type(t) is int):
            s = {**s, "t": corrected(float(t), shift)}
        out.append(s)
    return out
