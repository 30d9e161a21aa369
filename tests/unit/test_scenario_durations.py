"""Durations as people write them become float seconds; anything else is a clear DurationError."""

from __future__ import annotations

import pytest

from drills.scenario import DurationError, parse_duration


@pytest.mark.parametrize("text, seconds", [
    (30, 30.0), (1.5, 1.5), ("1.5", 1.5), (".5", 0.5), ("30s", 30.0), ("2m", 120.0), ("500ms", 0.5),
    ("1m30s", 90.0), ("1h", 3600.0), ("1h2m3s4ms", 3723.004), ("1s500ms", 1.5), ("1m 30s", 90.0),
    ("30S", 30.0), ("0", 0.0), ("-5s", -5.0), (-2, -2.0),
])
def test_valid_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "ms", "30x", "2m30", "30s2m", "1d", "fast", None, True, [1], "nan",
                                  float("inf"), "1.2.3s"])
def test_invalid_durations(text):
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert "30s" in str(caught.value)
