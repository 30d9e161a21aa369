"""The state directory: what a drill keeps outside its run directory, because it must outlive a SIGKILL
(`drill clean` reads it) or must not be uploaded with the reports (secrets).

$DRILLS_STATE_DIR, else $XDG_STATE_HOME/drills, else ~/.local/state/drills; inside it `active/` (heal
ledgers), `runs/` (who owns which run) and `secrets/` (run secrets and session tokens, owner-only).
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def state_dir() -> Path:
    """The root of the state directory (not created here)."""
    base = os.environ.get("DRILLS_STATE_DIR") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "drills")
    return Path(base)


def private_dir(path: Path) -> Path:
    """`path` and its missing parents, created 0700 (mkdir's own mode, never a later chmod: the umask can only
    take bits away)."""
    path = Path(path)
    if path.is_dir():
        return path
    if not path.parent.is_dir():
        private_dir(path.parent)
    try:
        path.mkdir(mode=PRIVATE_DIR)
    except FileExistsError:
        if not path.is_dir():
            raise NotADirectoryError(f"{path} exists and is not a directory") from None
    return path


def write_private(path: Path, data: bytes) -> None:
    """Create `path` owner-only (0600 from the open call, O_EXCL so no older file with wider rights is
    reused, O_NOFOLLOW so no planted link is followed) and write `data` to it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def safe_name(name: object) -> str | None:
    """`name` if it can be a file name in the state directory (a run id read back from a file is checked
    before it becomes a path), else None."""
    if not isinstance(name, str) or not 0 < len(name) <= 100 or name.startswith("."):
        return None
    ok = all(c.isascii() and (c.isalnum() or c in "-_.") for c in name)
    return name if ok else None
