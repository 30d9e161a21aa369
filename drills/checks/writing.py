"""Writing the checks' files into a run directory (result.json, final-state.json) so that a reader never sees
half a file and nothing left in the folder redirects the write.

The text goes to a new temporary file next to the target, created exclusively under a random name (O_EXCL: it
is never opened through a link someone left there, as a fixed `result.json.tmp` was), and is renamed over the
target: the rename replaces a link at the target itself rather than writing where it points. The file gets the
usual mode (0666 less the umask), not mkstemp's owner-only 0600, so it reads like the run's other files.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


def replace_file(path: Path, write: Callable[[TextIO], object]) -> Path:
    """Let `write` write the new text of `path` (UTF-8) to a file object, then put it in place atomically (see
    the module docstring); raises OSError, leaving no temporary file behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
