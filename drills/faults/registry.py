"""Fault type -> family, and the one entry point that injects any fault."""

from __future__ import annotations

from drills.faults import disaster, network, process, recovery, toxics
from drills.faults.context import FaultContext, Injection
from drills.faults.targets import resolve
from drills.scenario.fault_types import kind_of
from drills.scenario.model import Fault


def family(fault_type: str) -> str:
    """process / network / toxic / disaster / action, from the one catalogue (drills/scenario/fault_types.py)."""
    kind = kind_of(fault_type)
    if kind is None:
        raise ValueError(f"unknown fault type {fault_type!r}")
    return kind


def inject(ctx: FaultContext, fault: Fault, key: str) -> Injection:
    """Resolve the target now, register the heal, inject. Raises TargetError / RuntimeError on failure."""
    fam = family(fault.type)
    if fam == "toxic":
        return toxics.inject(ctx, fault, key)
    if fam == "disaster":
        return disaster.inject(ctx, fault, key)
    if fam == "action":
        return recovery.inject(ctx, fault, key)
    ctx.view.refresh()
    nodes = resolve(fault.target, ctx.view, ctx.rng) if fault.target else []
    if fam == "process":
        return process.inject(ctx, fault, key, nodes)
    return network.inject(ctx, fault, key, nodes)

