"""The nemesis: fault families by name, the one entry point that injects any fault, and what is left behind.

The registry is built from the family modules (each exports `FAMILY`); the catalogue names each fault type's
family (drills/scenario/fault_types.py). Heal actions are dispatched by name through HEALERS (heal.py).
"""

from __future__ import annotations

from drills.faults import actions, disaster, network, process, toxics, zone
from drills.faults.context import FaultContext, Injection
from drills.faults.family import Family, HealHandler
from drills.scenario.fault_types import FAULTS
from drills.scenario.model import Fault

FAMILIES: dict[str, Family] = {m.FAMILY.name: m.FAMILY for m in (process, network, toxics, disaster, actions, zone)}


def _healers() -> dict[str, HealHandler]:
    table: dict[str, HealHandler] = {}
    for fam in FAMILIES.values():
        for name, handler in fam.heals.items():
            if name in table:
                raise RuntimeError(f"heal action {name!r} is declared by two families")
            table[name] = handler
    return table


HEALERS: dict[str, HealHandler] = _healers()


def family(fault_type: str) -> Family:
    """The family of a fault type, from the one catalogue."""
    spec = FAULTS.get(fault_type)
    if spec is None:
        raise ValueError(f"unknown fault type {fault_type!r}")
    return FAMILIES[spec.family]


def inject(ctx: FaultContext, fault: Fault, key: str) -> Injection:
    """Resolve the target now, register the heal, inject. Raises TargetError / RuntimeError on failure."""
    return family(fault.type).inject(ctx, fault, key)


def leftovers(ctx: FaultContext) -> list[str]:
    """What a verified heal must find empty: pending ledger entries, then each family's own leftovers."""
    found = [f"ledger entry {k} still pending" for k in ctx.ledger.pending()]
    for fam in FAMILIES.values():
        found += fam.leftovers(ctx) if fam.leftovers else []
    return found


def needs_sidecars(fault_types: list[str]) -> bool:
    """Whether any of these faults injects through the network sidecars a drill pre-starts."""
    return any(family(t).sidecars for t in fault_types if t in FAULTS)
