"""The history writer: buffered, flushed at least every second, fsync'd on close; readers skip a
truncated last line and say so; a SIGKILLed writer loses at most about the last second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from drills.rundir.tolerant import read_complete
from drills.rundir.writers import BufferedLineWriter


def test_flushes_within_the_interval_without_close(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    writer = BufferedLineWriter(path, flush_interval=1.0).start()
    try:
        for i in range(100):
            writer.append({"op": "purchase", "i": i})
        assert read_complete(path).records == []  # buffered, nothing written yet
        deadline = time.monotonic() + 1.6
        while time.monotonic() < deadline and len(read_complete(path).records) < 100:
            time.sleep(0.05)
        assert [r["i"] for r in read_complete(path).records] == list(range(100))
    finally:
        writer.close()


def test_close_writes_the_rest_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text('{"op": "earlier"}\n')
    writer = BufferedLineWriter(path, flush_interval=3600).start()
    writer.append({"op": "a", "seats": [1, 2], "name": "ü"})
    writer.close()
    assert writer.closed and writer.written == 1
    got = read_complete(path)
    assert [r["op"] for r in got.records] == ["earlier", "a"] and got.records[1]["name"] == "ü"
    assert not got.truncated and path.read_bytes().endswith(b"\n")
    writer.close()  # idempotent


def test_reader_skips_a_truncated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(b'{"op": "a"}\n{"op": "b"}\n{"op": "c", "sea')
    got = read_complete(path)
    assert [r["op"] for r in got.records] == ["a", "b"] and got.truncated and got.bad_lines == 0
    path.write_bytes(b'{"op": "a"}\n{"op": "b"}')  # parsable but unterminated: the newline never came
    got = read_complete(path)
    assert [r["op"] for r in got.records] == ["a"] and got.truncated
    path.write_bytes(b'{"op": "a"}\nnot json\n{"op": "b"}\n')
    got = read_complete(path)
    assert [r["op"] for r in got.records] == ["a", "b"] and not got.truncated and got.bad_lines == 1
    assert read_complete(tmp_path / "missing.jsonl").records == []


WRITER_SCRIPT = """
import sys, time
from drills.rundir.writers import BufferedLineWriter
w = BufferedLineWriter(sys.argv[1], flush_interval=1.0).start()
print("ready", flush=True)
while True:
    w.append({"op": "purchase", "t": time.time(), "pad": "x" * 200})
    time.sleep(0.002)
"""


def test_sigkill_loses_at_most_about_a_second(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(path)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(3.3)
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    got = read_complete(path)
    assert len(got.records) > 100
    last = max(r["t"] for r in got.records)
    assert killed_at - last < 1.5, f"lost {killed_at - last:.2f}s of operations"
    assert all(json.dumps(r) for r in got.records)
