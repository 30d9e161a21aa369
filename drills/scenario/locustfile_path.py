"""`load.locustfile`: `builtin` or a file relative to the scenario, inside the scenario's folder.

The scenario names code the harness will run, so the path is held to what the docs promise: relative, with no
`..` and no symbolic link leading out of the folder, and a regular file that exists when the scenario is
validated rather than a traceback or a hang when Locust starts.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

BUILTIN = "builtin"
# The spelling rules for the JSON schema (which cannot look at the file): not absolute, no `..`, no control chars.
LOCUSTFILE_PATTERN = r"^(?!/|~)(?!(.*/)?\.\.(/|$))[^\x00-\x1f\x7f]+$"
HELP = "'builtin' or the path of a locustfile in the scenario's folder, relative to the scenario"


def locustfile_problem(text: str, base_dir: Path | None) -> str | None:
    """What is wrong with `text` as a locustfile ("expected ..., found ..."), or None when it is fine.

    Without `base_dir` (plain data, no file) only the spelling is checked, not the file.
    """
    return None if text == BUILTIN else scenario_file_problem(text, base_dir, HELP)


def scenario_file_problem(text: str, base_dir: Path | None, expected: str) -> str | None:
    """What is wrong with `text` as a file beside the scenario (relative, inside its folder, a regular file),
    worded "expected <expected>, found ..."; None when it is fine (only the spelling without `base_dir`).
    One check for every file a scenario names (its locustfile, its own alert rules)."""
    found = f"found '{text}'"
    if not text.strip():
        return f"expected {expected}, found an empty string"
    odd = next((c for c in text if ord(c) < 0x20 or ord(c) == 0x7F), None)
    if odd is not None:
        return f"expected {expected}, {found} (it contains the control character U+{ord(odd):04X})"
    path = PurePosixPath(text)
    if path.is_absolute() or text.startswith("~"):
        return f"expected {expected}, {found} (an absolute path: write it relative to the scenario's folder)"
    if ".." in path.parts:
        return f"expected {expected}, {found} ('..' leads out of the folder)"
    return None if base_dir is None else _file_problem(text, base_dir, expected)


def _file_problem(text: str, base_dir: Path, expected: str) -> str | None:
    full = base_dir / text
    try:
        st = os.stat(full)
        resolved, folder = full.resolve(), base_dir.resolve()
    except (FileNotFoundError, NotADirectoryError):
        return f"expected {expected}, found '{text}' (no such file: {full})"
    except (OSError, RuntimeError, ValueError) as exc:  # too long, a loop of links, no permission, not encodable
        return f"expected {expected}, found '{text}' (it cannot be read: {getattr(exc, 'strerror', None) or exc})"
    if stat.S_ISDIR(st.st_mode):
        return f"expected {expected}, found '{text}' (a directory, not a file)"
    if not stat.S_ISREG(st.st_mode):
        return f"expected {expected}, found '{text}' (not a regular file)"
    if not resolved.is_relative_to(folder):
        return f"expected {expected}, found '{text}' (a symbolic link to {resolved}, outside the folder)"
    return None
