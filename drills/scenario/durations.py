"""Durations as people write them (`30s`, `2m`, `500ms`, `1m30s`, `1.5`) turned into float seconds."""

from __future__ import annotations

import math
import re

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
# Units largest first, each at most once: 1h30m, 2m15s, 1s500ms. A bare number is seconds.
_PART = r"(?:(?P<{0}>\d+(?:\.\d+)?){0})?"
_DURATION = re.compile("^" + "".join(_PART.format(u) for u in ("h", "m", "s")) + r"(?:(?P<ms>\d+(?:\.\d+)?)ms)?$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")

DURATION_HELP = "a duration such as 30s, 2m, 500ms, 1m30s or a number of seconds"


class DurationError(ValueError):
    """The text is not a duration; the message says what was found."""


def parse_duration(value: object) -> float:
    """Seconds as a float; raises DurationError (never anything else) for text that is not a duration.

    Negative values are returned as they are so the caller can say "must not be negative" precisely.
    """
    if isinstance(value, bool) or value is None:
        raise DurationError(f"expected {DURATION_HELP}")
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:
            raise DurationError(f"expected {DURATION_HELP} (a finite one)") from None
    elif isinstance(value, str):
        text = value.strip().replace(" ", "").lower()
        sign = -1.0 if text.startswith("-") else 1.0
        text = text.lstrip("+-")
        if _NUMBER.match(text):
            seconds = sign * float(text)
        else:
            match = _DURATION.match(text)
            if not text or not match or not any(match.groupdict().values()):
                raise DurationError(f"expected {DURATION_HELP}")
            seconds = sign * sum(float(v) * _UNITS[u] for u, v in match.groupdict().items() if v)
    else:
        raise DurationError(f"expected {DURATION_HELP}")
    if not math.isfinite(seconds):
        raise DurationError(f"expected {DURATION_HELP} (a finite one)")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as a short human string for messages: 70 -> '70 s', 0.5 -> '0.5 s'."""
    return f"{seconds:g} s"
