"""The behavioural half of a fault family, the shape each family module exports as `FAMILY`.

The declarative half (where it acts, colour, label) is drills/scenario/fault_families.py, so scenario and
report code can read it without importing this package. A family injects its fault types, names a handler for
every heal action it writes to the ledger (heals stay plain data: `drill clean` runs them after a SIGKILL),
and says what of its own could be left behind after the heals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from drills.faults.context import FaultContext, HealEnv, Injection
from drills.faults.ledger import HealAction
from drills.scenario.model import Fault

Inject = Callable[[FaultContext, Fault, str], Injection]
HealHandler = Callable[[HealAction, HealEnv], str]
Leftovers = Callable[[FaultContext], list[str]]
T = TypeVar("T")


@dataclass(frozen=True)
class Family:
    name: str                                   # a key of drills/scenario/fault_families.FAMILIES
    inject: Inject                              # register the heal in the ledger first, then act
    heals: Mapping[str, HealHandler] = field(default_factory=dict)   # heal action name -> handler
    leftovers: Leftovers | None = None          # what of this family is still in place after every heal
    sidecars: bool = False                      # injects through network sidecars a drill pre-starts


class Healed(str):
    """What a heal did, in words, plus facts for the heal line's `data` (a restore's timings)."""

    data: dict[str, Any]

    def __new__(cls, text: str, data: dict[str, Any] | None = None) -> Healed:
        obj = super().__new__(cls, text)
        obj.data = data or {}
        return obj


class HealFailed(RuntimeError):
    """A heal that ran and failed, with what it saw (for the heal line's `data`)."""

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.data = data or {}


def need(value: T | None, what: str) -> T:
    """A field the heal action cannot do without (a ledger line written by hand or by an older drills)."""
    if value is None:
        raise RuntimeError(f"{what} is needed")
    return value
