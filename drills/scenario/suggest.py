""""Did you mean ...?" for misspelled keys and names: a typo should cost one glance, not a trip to the docs.

Only for typos: a word that is a real name refused here (`known`, e.g. SIGSTOP where kill takes SIGINT) gets no
suggestion, since pointing at a different name would hide why it was refused; and a prefix every choice shares
(SIG...) does not count toward similarity, or any SIGFOO would look like SIGHUP.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable


def did_you_mean(word: object, choices: Iterable[str], known: Iterable[str] = ()) -> str | None:
    """The closest name in `choices` to `word`, or None when nothing is close enough to be a plausible typo or
    when `word` is one of `known`: names that exist but are not allowed where it was written."""
    if not isinstance(word, str) or not word:
        return None
    options = [c for c in choices if c]
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return lowered[word.lower()]  # only the case differs
    normalised = word.lower().replace("-", "_").replace(" ", "_")
    if normalised in lowered and lowered[normalised] != word:
        return lowered[normalised]
    if normalised in {k.lower().replace("-", "_") for k in known}:
        return None
    shared = os.path.commonprefix(list(lowered)) if len(lowered) > 1 else ""
    if len(shared) >= 2 and normalised.startswith(shared):
        rest = {low[len(shared):]: c for low, c in lowered.items()}
        close = difflib.get_close_matches(normalised[len(shared):], list(rest), n=1, cutoff=0.6)
        if close:
            return rest[close[0]]
    else:
        close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        if close:
            return lowered[close[0]]
    prefixed = [c for low, c in lowered.items() if len(word) >= 3 and low.startswith(normalised)]
    return prefixed[0] if len(prefixed) == 1 else None  # `during` -> during_fault
