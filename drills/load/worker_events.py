"""Worker health lines in events.jsonl, written by the Locust master (docs/run-directory.md, `kind: worker`).

The harness writes events.jsonl too, from another process: each line here is one O_APPEND write of one
whole line, so the two interleave line by line and never inside a line. `WorkerHealth` turns what the master
sees (a worker joined, its Locust state, a quit message, the end of the run) into the lines, as plain logic
(no Locust import) so it is unit-tested directly:

    joined   the worker proved the token and got the config (offset_s / rtt_s from the ping/pong), or came
             back after being missing (detail says so);
    missing  its heartbeats stopped (Locust marks it missing and moves its users to the others);
    quit     it said goodbye (graceful);
    lost     missing and never came back by the end of the load.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.rundir import codec

KIND = "worker"
MISSING = "missing"      # Locust's STATE_MISSING
GONE = "gone"            # no longer among Locust's clients


class WorkerEventLog:
    """Appends `kind: worker` lines to events.jsonl, one os.write per line."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self.lines: list[dict[str, Any]] = []   # what was written, for the master's own log

    def emit(self, name: str, worker: str, offset_s: float | None = None, rtt_s: float | None = None,
             detail: str = "") -> dict[str, Any]:
        record = {"t": round(self.clock(), 3), "kind": KIND, "name": name, "worker": worker,
                  "offset_s": offset_s, "rtt_s": rtt_s, "detail": detail}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, codec.dumps(record) + b"\n")
        finally:
            os.close(fd)
        self.lines.append(record)
        return record


@dataclass
class _Seen:
    name: str
    offset_s: float | None
    rtt_s: float | None
    state: str = "ready"
    missing_since: float | None = None
    done: bool = False             # quit or lost: nothing more is written about it


class WorkerHealth:
    """What the master knows about each authenticated worker, by Locust client id."""

    def __init__(self, log: WorkerEventLog) -> None:
        self.log = log
        self.workers: dict[str, _Seen] = {}

    def joined(self, client_id: str, name: str, offset_s: float | None, rtt_s: float | None,
               detail: str = "") -> None:
        self.workers[client_id] = _Seen(name, offset_s, rtt_s)
        self.log.emit("joined", name, offset_s, rtt_s, detail)

    def quit(self, client_id: str, detail: str = "") -> None:
        seen = self.workers.get(client_id)
        if seen is None or seen.done:
            return
        seen.done = True
        self.log.emit("quit", seen.name, seen.offset_s, seen.rtt_s, detail or "the worker quit")

    def observe(self, states: dict[str, str], last_worker_detail: str = "") -> None:
        """`states`: Locust's state of each client it knows (ready, spawning, running, missing, ...); a
        joined worker absent from it is gone. `last_worker_detail` is added to a `missing` line when no worker
        is left running (Locust then stops the test by itself: the drill must say so)."""
        now = self.log.clock()
        for client_id, seen in self.workers.items():
            if seen.done:
                continue
            state = states.get(client_id, GONE)
            if state == MISSING and seen.state != MISSING:
                seen.missing_since = now
                detail = "no heartbeat for 3 s: its users were moved to the other workers"
                if last_worker_detail:
                    detail = last_worker_detail
                self.log.emit(MISSING, seen.name, seen.offset_s, seen.rtt_s, detail)
                seen.state = MISSING
            elif state not in (MISSING, GONE) and seen.state == MISSING:
                away = now - (seen.missing_since or now)
                self.log.emit("joined", seen.name, seen.offset_s, seen.rtt_s,
                              f"back after {away:.1f} s missing (heartbeats resumed)")
                seen.state, seen.missing_since = state, None
            elif state == GONE and seen.state != MISSING:
                # gone without a quit message and without being missing first: Locust dropped it
                seen.done = True
                self.log.emit("quit", seen.name, seen.offset_s, seen.rtt_s, "left without saying goodbye")
            elif state not in (MISSING, GONE):
                seen.state = state

    def finish(self) -> None:
        """End of the load: every worker still missing (or dropped while missing) is lost."""
        now = self.log.clock()
        for seen in self.workers.values():
            if not seen.done and seen.state == MISSING:
                seen.done = True
                away = now - (seen.missing_since or now)
                self.log.emit("lost", seen.name, seen.offset_s, seen.rtt_s,
                              f"missing for the last {away:.1f} s of the load, never came back")

    def is_done(self, client_id: str) -> bool:
        seen = self.workers.get(client_id)
        return seen is not None and seen.done

    def missing_count(self) -> int:
        return sum(1 for s in self.workers.values() if not s.done and s.state == MISSING)

    def names(self) -> list[str]:
        return [s.name for s in self.workers.values()]
