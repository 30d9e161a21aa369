""""Did you mean ...?" for misspelled keys and names: a typo should cost one glance, not a trip to the docs."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: object, choices: Iterable[str]) -> str | None:
    """The closest known name to `word`, or None when nothing is close enough to be a plausible typo."""
    if not isinstance(word, str) or not word:
        return None
    options = [c for c in choices if c]
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return lowered[word.lower()]  # only the case differs
    normalised = word.lower().replace("-", "_").replace(" ", "_")
    if normalised in lowered and lowered[normalised] != word:
        return lowered[normalised]
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return lowered[close[0]]
    prefixed = [c for low, c in lowered.items() if len(word) >= 3 and low.startswith(normalised)]
    return prefixed[0] if len(prefixed) == 1 else None  # `during` -> during_fault
