"""Appending to the run directory so that a crash loses at most a cut-off last line, which readers skip.

Two writers for two needs: `LineWriter` writes and flushes each line at once (events and probes: few lines,
each one matters the moment it happens); `BufferedLineWriter` batches lines from a background thread (the
history: one line per operation on the load's hot path, where a system call per request would cost load).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from drills.rundir import codec


class LineWriter:
    """Thread-safe appender: each line is written and flushed as one call; fsync on close."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh = self.path.open("ab")
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = codec.dumps(record) + b"\n"
        with self._lock:
            if self._fh.closed:
                return
            self._fh.write(line)
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()


class EventLog(LineWriter):
    """events.jsonl: every record stamped with wall clock (ms) and the harness's monotonic clock."""

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        record = {"t": round(time.time(), 3), "mono": round(time.monotonic(), 3), "kind": kind, **fields}
        self.write(record)
        return record


class BufferedLineWriter:
    """Appends one JSON object per line; `append` is cheap and never blocks on disk. A background thread
    writes at least every `flush_interval` seconds, so a generator that is SIGKILLed loses at most the last
    second. Inside Locust the thread is a greenlet (gevent patches `threading`); the code is the same."""

    def __init__(self, path: Path, flush_interval: float = 1.0, mode: int = 0o644) -> None:
        self.path = Path(path)
        self.flush_interval = flush_interval
        self.written = 0
        # Encoded lines, not dicts: bytes are invisible to the garbage collector, so a second's worth of
        # buffered records does not make every collection slower. append/popleft are atomic: no lock.
        self._buf: deque[bytes] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode)
        if not mode & 0o077 and os.fstat(self._fd).st_mode & 0o077:  # a private file that was not: narrow it
            os.fchmod(self._fd, mode)                                    # before anything is written to it

    def start(self) -> BufferedLineWriter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"jsonl-{self.path.name}", daemon=True)
            self._thread.start()
        return self

    def append(self, record: dict) -> None:
        self._buf.append(codec.dumps(record))

    def flush(self) -> int:
        """Write what is buffered now, in one write call per batch; returns the number of lines."""
        if not self._buf or self._fd is None:
            return 0
        pop = self._buf.popleft
        batch = [pop() for _ in range(len(self._buf))]
        data = b"\n".join(batch) + b"\n"
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError:
            if len(view) == len(data):  # nothing written: keep the records for the next attempt
                self._buf.extendleft(reversed(batch))
            raise
        self.written += len(batch)
        return len(batch)

    def close(self) -> None:
        """Stop the thread, write the rest and fsync, so a clean stop loses nothing."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.flush()
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None

    @property
    def closed(self) -> bool:
        return self._fd is None

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except OSError:  # disk full or similar: keep the records, try again next time
                pass
