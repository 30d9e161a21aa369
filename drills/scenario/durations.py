"""Durations as people write them (`30s`, `2m`, `500ms`, `1m30s`, `1.5`) turned into float seconds.

Parsed by ASCII regular expressions only: Python's float() also takes Unicode digits ('٣٠'), underscores
('1_0') and any number of signs once they are stripped, none of which a reader of the file would take for the
number the tool then uses.
"""

from __future__ import annotations

import math
import re

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_NUM = r"[0-9]+(?:\.[0-9]+)?"
# Units largest first, each at most once, spaces allowed between the parts: 1h30m, 2m 15s, 1s500ms.
_DURATION = re.compile("".join(f"(?:(?P<{u}>{_NUM}) *{u} *)?" for u in ("h", "m", "s", "ms")), re.ASCII)
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)  # a bare number: seconds

DURATION_HELP = "a duration such as 30s, 2m, 500ms, 1m30s or a number of seconds"


class DurationError(ValueError):
    """The text is not a duration; `detail` says what exactly is wrong with it when that is more than its shape."""

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(f"expected {DURATION_HELP}" + (f" ({detail})" if detail else ""))


def parse_duration(value: object) -> float:
    """Seconds as a float; raises DurationError (never anything else) for text that is not a duration.

    One leading '-' is read so the caller can say "must not be negative" precisely; any other sign is refused.
    """
    if isinstance(value, bool) or value is None:
        raise DurationError()
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:
            raise DurationError("not a finite number") from None
    elif isinstance(value, str):
        seconds = _parse_text(value)
    else:
        raise DurationError()
    if not math.isfinite(seconds):
        raise DurationError("not a finite number")
    return seconds


def _parse_text(value: str) -> float:
    text = value.strip()
    odd = next((c for c in text if not c.isascii()), None)
    if odd is not None:
        raise DurationError(f"U+{ord(odd):04X} '{odd}' is not ASCII: write the digits 0-9 and the units h, m, s, ms")
    sign = 1.0
    if text.startswith("-"):
        sign, text = -1.0, text[1:]
    if text[:1] in ("+", "-"):
        raise DurationError("more than one sign" if sign < 0 or text[1:2] in ("+", "-")
                            else "no '+': write the duration without a sign")
    text = text.lower()
    if _NUMBER.fullmatch(text):
        return sign * float(text)
    match = _DURATION.fullmatch(text)
    if not text or not match or not any(match.groupdict().values()):
        raise DurationError("no '_' between digits" if "_" in text else "")
    return sign * sum(float(v) * _UNITS[u] for u, v in match.groupdict().items() if v)


def format_duration(seconds: float) -> str:
    """Seconds as a short human string for messages: 70 -> '70 s', 0.5 -> '0.5 s'."""
    return f"{seconds:g} s"


def human_duration(seconds: float) -> str:
    """Seconds in the largest unit that keeps them readable: 86400 -> '24 h', 90 -> '1.5 min', 0.25 -> '250 ms'."""
    for size, unit in ((3600.0, "h"), (60.0, "min"), (1.0, "s")):
        if abs(seconds) >= size:
            return f"{seconds / size:.6g} {unit}"
    return f"{seconds * 1000:.6g} ms"
