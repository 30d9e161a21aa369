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


@pytest.mark.parametrize("text, seconds", [("1m 30s", 90.0), ("5 s", 5.0), ("2 ms", 0.002), ("1e3", 1000.0),
                                           ("  30s  ", 30.0)])
def test_spaces_between_parts_and_bare_numbers(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text, detail", [
    ("+-5s", "more than one sign"), ("--5s", "more than one sign"), ("-+5s", "more than one sign"),
    ("+5s", "no '+'"), ("+5", "no '+'"), ("1_000s", "'_'"), ("1_0", "'_'"), ("٣٠s", "U+0663"), ("１０s", "U+FF11"),
    ("3\u200b0s", "U+200B"), ("1e999", "finite"),
])
def test_signs_underscores_and_non_ascii_digits_are_refused_with_the_reason(text, detail):
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert detail in caught.value.detail and detail in str(caught.value)


@pytest.mark.parametrize("text", ["3 0s", "- 5s", "5s-", "1m-5s", "5 5", "1.s", "s5"])
def test_loose_spellings_are_refused(text):
    with pytest.raises(DurationError):
        parse_duration(text)


def test_no_unicode_digit_of_any_script_is_read_as_a_number():
    """float() reads every Unicode decimal digit; the parser must read none of them (ASCII regexes only)."""
    digits = [chr(i) for i in range(0x80, 0x110000) if chr(i).isdigit()]
    assert len(digits) > 300
    for digit in digits:
        for text in (digit, f"{digit}s", f"1{digit}m", f"1.{digit}"):
            with pytest.raises(DurationError):
                parse_duration(text)
