"""Append-only JSON-lines files that survive a crash: one object per line, flushed as written."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any


class JsonlWriter:
    """Thread-safe appender. Each line is flushed at once; fsync on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str)
        with self._lock:
            if self._fh.closed:
                return
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()


class EventLog(JsonlWriter):
    """events.jsonl: every record stamped with wall clock (ms) and the harness's monotonic clock."""

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        record = {"t": round(time.time(), 3), "mono": round(time.monotonic(), 3), "kind": kind, **fields}
        self.write(record)
        return record
