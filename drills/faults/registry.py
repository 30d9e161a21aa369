"""Fault type -> family, and the one entry point that injects any fault."""

from __future__ import annotations

from drills.faults import network, process, toxics
from drills.faults.context import FaultContext, Injection
from drills.faults.targets import resolve
from drills.scenario.model import Fault

PROCESS = ("kill", "stop", "freeze", "restart")
NETWORK = ("isolate", "partition", "partition_oneway", "packet_loss")
TOXICS = ("latency", "bandwidth", "timeout", "reset_peer", "slicer", "limit_data", "link_down")


def family(fault_type: str) -> str:
    if fault_type in PROCESS:
        return "process"
    if fault_type in NETWORK:
        return "network"
    if fault_type in TOXICS:
        return "toxics"
    raise ValueError(f"unknown fault type {fault_type!r}")


def inject(ctx: FaultContext, fault: Fault, key: str) -> Injection:
    """Resolve the target now, register the heal, inject. Raises TargetError / RuntimeError on failure."""
    fam = family(fault.type)
    if fam == "toxics":
        return toxics.inject(ctx, fault, key)
    ctx.view.refresh()
    nodes = resolve(fault.target, ctx.view, ctx.rng) if fault.target else []
    if fam == "process":
        return process.inject(ctx, fault, key, nodes)
    return network.inject(ctx, fault, key, nodes)

