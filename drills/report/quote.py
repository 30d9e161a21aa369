"""How much of a run's own text a rendering quotes: one cap for every string and one for every section.

A run directory is written by the harness, by the system under test and, after a crash, by nobody in
particular: a 50 MB error line in events.jsonl must not make a 100 MB report or fill a terminal. Every
rendering (report.html, junit.xml, the comparison, the runs index, the console) cuts what it quotes here, and
says how much it cut, e.g. "… (49 999 000 bytes cut)". Documented in README ("Reports").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drills.rundir.textcap import STRING_MAX, cap, spaced_bytes

QUOTE_MAX = STRING_MAX   # UTF-8 bytes of any one quoted string: no more than result.json keeps of it
SECTION_MAX = 256_000    # UTF-8 bytes of one section: the rows of a table, the items of a list, scenario.yaml


def clip(text: str, limit: int = QUOTE_MAX) -> str:
    """`text` when it fits in `limit` UTF-8 bytes, else its start and '… (N bytes cut)' (rundir.textcap.cap)."""
    return cap(text, limit)


def clip_all(value: Any, limit: int = QUOTE_MAX) -> Any:
    """A JSON value with every string in it clipped (keys too); lists and objects keep their shape."""
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, dict):
        return {clip(k, limit) if isinstance(k, str) else k: clip_all(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [clip_all(v, limit) for v in value]
    return value


def within_section(parts: Iterable[str], limit: int = SECTION_MAX) -> tuple[list[str], int, int]:
    """The leading parts (rendered rows or items) that fit in `limit` bytes together: (kept, how many were
    left out, their bytes). The first part is always kept, so a section never shows nothing."""
    kept: list[str] = []
    used = left = left_bytes = 0
    for part in parts:
        size = len(part.encode("utf-8", "surrogatepass"))
        if kept and (left or used + size > limit):
            left += 1
            left_bytes += size
            continue
        kept.append(part)
        used += size
    return kept, left, left_bytes


def cut_note(left: int, left_bytes: int, what: str = "rows") -> str:
    """The words for what `within_section` left out, e.g. '… and 12 more rows (1 204 332 bytes cut)'."""
    return f"… and {left} more {what} ({spaced_bytes(left_bytes)} bytes cut)"
