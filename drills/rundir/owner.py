"""Who owns a run: the harness process, recorded so `drill clean` can tell a live drill from a dead one.

A pid alone is not enough (pids are reused, and a reboot starts them over), so the owner is the pid plus the
process's start time (/proc/<pid>/stat field 22, clock ticks after boot), the boot id and the host. A run is
live only while a process with that pid *and* that start time exists; a run owned on another host cannot be
judged here and counts as live (never touched).

The run record (`runs/<run id>.json` in the state directory) is written before a drill creates anything and
kept until nothing of it can be left: removed by the drill when it tore its stack down, by `drill clean`
otherwise (a kept stack, a SIGKILL).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drills.rundir.statedir import private_dir, safe_name, state_dir, write_private

PROC = Path("/proc")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on: the name in field 2 may hold spaces and parentheses."""
    text = _read(PROC / str(pid) / "stat")
    if not text or ")" not in text:
        return None
    return text.rsplit(")", 1)[1].split()


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks after boot (field 22), or None when it cannot be read."""
    fields = _stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def boot_id() -> str | None:
    return _read(PROC / "sys" / "kernel" / "random" / "boot_id")


@dataclass(frozen=True)
class Owner:
    pid: int
    start: int | None       # /proc/<pid>/stat field 22; None where there is no /proc
    boot: str | None
    host: str

    @classmethod
    def me(cls) -> Owner:
        pid = os.getpid()
        return cls(pid, start_ticks(pid), boot_id(), socket.gethostname())

    @classmethod
    def from_dict(cls, data: Any) -> Owner | None:
        """The owner recorded in a ledger or run record; None when it is absent or not an owner."""
        if not isinstance(data, dict) or not isinstance(data.get("pid"), int) or data["pid"] <= 0:
            return None
        start = data.get("start")
        boot, host = data.get("boot"), data.get("host")
        return cls(data["pid"], start if isinstance(start, int) else None,
                   boot if isinstance(boot, str) else None, host if isinstance(host, str) else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def encode(self) -> str:
        """For a Docker label value: pid:start:boot:host."""
        return f"{self.pid}:{'' if self.start is None else self.start}:{self.boot or ''}:{self.host}"

    @classmethod
    def decode(cls, text: Any) -> Owner | None:
        if not isinstance(text, str) or text.count(":") < 3:
            return None
        pid, start, boot, host = text.split(":", 3)
        if not pid.isdigit() or (start and not start.isdigit()):
            return None
        return cls(int(pid), int(start) if start else None, boot or None, host)

    def alive(self) -> bool:
        """Whether the owning process still runs (see the module docstring); True when it cannot be told."""
        if not self.here:
            return True
        if self.boot and boot_id() not in (None, self.boot):
            return False  # recorded before the last reboot
        fields = _stat_fields(self.pid)
        if fields is None:
            return self.start is None and _exists(self.pid)
        if fields[0] in ("Z", "X"):  # a zombie has finished: it only waits for its parent
            return False
        return self.start is None or start_ticks(self.pid) == self.start

    @property
    def here(self) -> bool:
        """Whether the owner ran on this host (only then can `alive` tell)."""
        return not self.host or self.host == socket.gethostname()

    def describe(self) -> str:
        return f"pid {self.pid}" if self.here else f"pid {self.pid} on host {self.host}, not checkable from here"


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---- run records ------------------------------------------------------------------------------------
def runs_dir() -> Path:
    return state_dir() / "runs"


def claim(run_id: str, run_dir: Path, owner: Owner | None = None) -> Owner:
    """Record that this process owns `run_id` (before anything of the run exists). Raises FileExistsError
    when the id is taken (the caller picks another), OSError when the state directory is not writable."""
    owner = owner or Owner.me()
    if safe_name(run_id) is None:
        raise ValueError(f"not a run id: {run_id!r}")
    doc = {"run_id": run_id, "run_dir": str(run_dir), "owner": owner.to_dict(), "since": round(time.time(), 3)}
    write_private(private_dir(runs_dir()) / f"{run_id}.json", json.dumps(doc, indent=1).encode())
    return owner


def records() -> dict[str, dict[str, Any]]:
    """Every run record, by run id (unreadable ones as {"problem": ...})."""
    found: dict[str, dict[str, Any]] = {}
    folder = runs_dir()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            doc = {"problem": f"{path}: unreadable ({exc})"}
        found[path.stem] = doc if isinstance(doc, dict) else {"problem": f"{path}: not a JSON object"}
    return found


def release(run_id: str) -> None:
    """Drop the run record: nothing of the run is left for `drill clean`."""
    if safe_name(run_id) is not None:
        (runs_dir() / f"{run_id}.json").unlink(missing_ok=True)
