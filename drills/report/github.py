"""GitHub Actions conventions, in one place: workflow-command annotations, the job summary file, the run's URL.

Only what the runner documents is used: `::error file=F,line=L,col=C::MESSAGE` on stdout (escaped as the
Actions toolkit escapes it, so a message with a newline or a `::` cannot end the command early or forge
another), `$GITHUB_STEP_SUMMARY` (a Markdown file each step appends to) and
`$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`. Outside Actions these variables are
unset and nothing here does anything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

Level = Literal["error", "warning", "notice"]
SUMMARY_VAR = "GITHUB_STEP_SUMMARY"


def escape_data(text: str) -> str:
    """A workflow command's message: %, CR and LF percent-encoded (the toolkit's escapeData)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as escape_data, and also ':' and ',' (which end a property)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: Level, message: str, file: str | None = None, line: int | None = None,
               col: int | None = None, title: str | None = None) -> str:
    """One `::error file=…,line=…,col=…::message` line; properties that are unknown are left out."""
    props = [(k, v) for k, v in (("file", file), ("line", line), ("col", col), ("title", title)) if v is not None]
    head = ",".join(f"{k}={escape_property(str(v))}" for k, v in props)
    return f"::{level}{' ' + head if head else ''}::{escape_data(message)}"


_UNESCAPE = re.compile("%(25|0D|0A|3A|2C)")
_CODES = {"25": "%", "0D": "\r", "0A": "\n", "3A": ":", "2C": ","}


def unescape(text: str) -> str:
    """The inverse of escape_property / escape_data (as the runner reads a command back)."""
    return _UNESCAPE.sub(lambda m: _CODES[m.group(1)], text)


def run_url(env: Mapping[str, str] | None = None) -> str | None:
    """The URL of this Actions run, or None outside Actions (any of the three variables unset or empty)."""
    env = os.environ if env is None else env
    server, repo, run_id = (env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if not (server and repo and run_id):
        return None
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"


def append_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> Path | None:
    """Append `markdown` to the job summary when $GITHUB_STEP_SUMMARY names one; returns that file, else None.

    Appended, never rewritten: every step of a job shares the file. An unwritable file raises OSError."""
    env = os.environ if env is None else env
    target = env.get(SUMMARY_VAR, "")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as out:
        out.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return path
