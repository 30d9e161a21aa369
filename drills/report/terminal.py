"""Text for a terminal is text, not markup and not control sequences.

Scenario names and descriptions, fault ids, service names, notes and errors come from files and systems a
user or the system under test wrote. Printed as they are, `[red]` becomes rich markup and ESC c clears the
screen, an OSC sequence retitles the window or plants a link. `plain` shows such text as it is meant: every
escape sequence and control character (C0 and C1, DEL, bidirectional overrides, lone surrogates) becomes
one '�', long text is cut like the report cuts it (drills.report.quote), and `safe` also escapes rich markup
for text placed inside a markup string. Every user-controlled string the CLI prints goes through one of them.
"""

from __future__ import annotations

import errno
import re

from rich.console import Console
from rich.markup import escape

from drills.report.quote import QUOTE_MAX, clip

SHOWN_INSTEAD = "\ufffd"   # '�': a character or sequence that would act on the terminal instead of being shown
_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"                          # CSI: colours, cursor moves, clear screen
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"          # OSC, DCS, SOS, PM, APC: up to BEL or ST (or the end)
    r"|\x1b[ -~]?"                                        # the other escapes (ESC c: reset) and a lone ESC
)
# C0 but tab and newline, DEL and C1, line separators, bidirectional overrides and isolates, lone surrogates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\t\n]+")


def plain(text: object, oneline: bool = False, limit: int = QUOTE_MAX) -> str:
    """`text` made inert for a terminal (print it with markup=False); `oneline` also turns tabs and newlines
    into spaces, for what must stay on one line (a table cell, a `FILE:LINE:COLUMN: …` problem)."""
    out = clip(str(text), limit)
    out = _CONTROLS.sub(SHOWN_INSTEAD, _SEQUENCES.sub(SHOWN_INSTEAD, out))
    return _LINE_BREAKS.sub(" ", out) if oneline else out.replace("\t", " ")


def safe(text: object, oneline: bool = False, limit: int = QUOTE_MAX) -> str:
    """`plain`, with rich markup escaped: for user text inside a markup string, e.g. f"[bold]{safe(name)}[/]"."""
    return escape(plain(text, oneline, limit))


class OutputClosed(BrokenPipeError):
    """Our own output was closed by its reader (`drill validate … | head -1`); the CLI exits quietly with
    ExitCode.OUTPUT_CLOSED. A broken pipe anywhere else (a socket, a child process) stays an error."""

    def __init__(self) -> None:
        super().__init__(errno.EPIPE, "the reader of the output went away")


class TerminalConsole(Console):
    """A rich Console whose closed output raises OutputClosed instead of rich's SystemExit(1): exit code 1
    means a budget failed, and a running drill must still heal its faults (it is an OSError to the runner)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True   # nothing more to write to a reader who left
        raise OutputClosed()
