"""What one metric observed in one scope: the value a budget is judged against, and why it is that value.

Its own module so that every observer (drills/checks/observers.py) and the budget judge can share it without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Observation:
    value: float | None      # None: unknown (nothing to judge), never zero
    detail: str = ""
    censored: bool = False   # a lower bound (still going at load stop): settles only a max it already exceeds
    never: bool = False      # never happened before load stop: `value` is a lower bound that fails any max
