"""How much of one string from a run directory is kept, in one place: result.json (drills.checks.damage) and
every rendering (drills.report.quote) cut the same way, at the same size, and say how much they cut.

A run directory is written by the harness, by the system under test and, after a crash, by nobody in
particular: a 5 MB error line must make neither a 5 MB result.json nor a 100 MB report. Kept here, light to
import, because the CLI loads the report's quoting at start-up."""

from __future__ import annotations

STRING_MAX = 4_000      # UTF-8 bytes of any one string kept or quoted


def spaced_bytes(n: int) -> str:
    """A byte count as the cut notes write it: 4 996 000."""
    return f"{n:,}".replace(",", " ")


def cap(text: str, limit: int = STRING_MAX) -> str:
    """`text` when it fits in `limit` UTF-8 bytes, else its start and '… (N bytes cut)'."""
    if len(text) * 4 <= limit:        # fits whatever the characters: no need to encode a long text
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", "ignore")
    return f"{kept}… ({spaced_bytes(len(data) - len(kept.encode('utf-8', 'surrogatepass')))} bytes cut)"
