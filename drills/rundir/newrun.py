"""A new run: a unique id and a directory of its own, so two runs never mix.

The run id names the run's Docker stack and labels (`drills.run`, `drills.stack`), so it is lowercase
[a-z0-9-], at most 40 characters, and independent of the directory: `<scenario slug>-<UTC stamp>-<random>`.
The directory is either `--out` (refused unless it is new or an empty directory) or
`reports/<UTC stamp>-<name>/`, created atomically (a taken name gets a suffix, never a shared folder).
"""

from __future__ import annotations

import base64
import errno
import os
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from drills.rundir import files

REPORTS = Path("reports")
RUN_ID_MAX = 40
_SLUG_MAX = RUN_ID_MAX - len("-20250101-120000-abcdefgh")


class RunDirError(Exception):
    """The run directory cannot be used; `hint` says what to do instead."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def new_run_id(scenario_name: str, now: datetime | None = None) -> str:
    """e.g. `leader-kill-20251126-141503-x3fa9c1q`: 40 random bits (8 base32 characters) on top of the
    second, so even many runs started in one second do not share a stack name (24 bits collided once in
    200 draws in CI)."""
    slug = re.sub(r"[^a-z0-9]+", "-", scenario_name.lower()).strip("-")[:_SLUG_MAX].strip("-") or "drill"
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    return f"{slug}-{stamp}-{base64.b32encode(secrets.token_bytes(5)).decode().lower()}"


def new_run_dir(scenario_name: str, out: Path | None, root: Path = REPORTS) -> Path:
    """`out` (see `claim_out`) or a fresh <root>/<UTC stamp>-<name>/; absolute (the load processes run with
    another working directory). Raises RunDirError with the reason in words."""
    if out is not None:
        return claim_out(out)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario_name).strip("-.")[:80] or "drill"
    _mkdirs(root, f"the reports folder {root}", "pass --out DIR somewhere writable")
    for n in range(1, 1000):
        path = root / (f"{stamp}-{safe}" if n == 1 else f"{stamp}-{safe}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise _unusable(f"run directory {path}", exc, "pass --out DIR somewhere writable") from None
        return path.resolve()
    raise RunDirError(f"no free run directory name under {root} for {stamp}-{safe}")


def check_out(out: Path) -> None:
    """Refuse an `--out` that cannot hold a new run, before anything starts (reads only)."""
    try:
        _check_out(Path(out))
    except OSError as exc:  # not even its metadata can be read
        raise _unusable(f"--out {out}", exc, "name a directory you can write to") from None


def _check_out(path: Path) -> None:
    writable = "name a directory you can write to"
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise RunDirError(f"--out {path}: exists and is not a directory",
                              hint="name a new or empty directory for the run")
        if any(path.iterdir()):
            raise RunDirError(f"--out {path}: directory is not empty (a run directory holds one run only)",
                              hint="name a new or empty directory, or leave --out out for reports/<stamp>-<name>/")
        if not os.access(path, os.W_OK | os.X_OK):
            raise RunDirError(f"--out {path}: directory is not writable", hint=writable)
        return
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is not None and (not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK)):
        raise RunDirError(f"--out {path}: cannot be created ({parent} is not a writable directory)", hint=writable)


def claim_out(out: Path) -> Path:
    """Create `out` (or take it when it is an empty directory) and claim it with an exclusive create of
    events.jsonl, so two runs started with the same --out at once cannot both have it."""
    check_out(out)
    path = Path(out)
    _mkdirs(path, f"--out {out}", "name a directory you can write to")
    try:
        fd = os.open(path / files.EVENTS, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise RunDirError(f"--out {out}: another run took this directory",
                          hint="name a new or empty directory") from None
    except OSError as exc:
        raise _unusable(f"--out {out}", exc, "name a directory you can write to") from None
    os.close(fd)
    return path.resolve()


def _mkdirs(path: Path, what: str, hint: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RunDirError(f"{what}: exists and is not a directory", hint=hint) from None
    except OSError as exc:
        raise _unusable(what, exc, hint) from None


def _unusable(what: str, exc: OSError, hint: str) -> RunDirError:
    why = "name too long" if exc.errno == errno.ENAMETOOLONG else exc.strerror or str(exc)
    return RunDirError(f"{what}: cannot be used: {why}", hint=hint)
