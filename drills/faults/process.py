"""Process faults through Docker: kill (any signal), stop (graceful), freeze (pause), restart.

Healed by starting (kill, stop; restart heals itself) or unpausing (freeze) the container again.
"""

from __future__ import annotations

from collections.abc import Callable

from docker.models.containers import Container

from drills.faults.context import FaultContext, HealEnv, Injection
from drills.faults.family import Family
from drills.faults.ledger import HealAction
from drills.scenario.model import Fault


def _kill(c: Container, fault: Fault, service: str) -> str:
    sig = str(fault.params.get("signal", "SIGKILL"))
    c.kill(signal=sig)
    return f"{sig} {service}"


def _stop(c: Container, fault: Fault, service: str) -> str:
    c.stop(timeout=int(fault.params.get("timeout", 10)))
    return f"stopped {service}"


def _freeze(c: Container, fault: Fault, service: str) -> str:
    c.pause()
    return f"paused {service}"


def _restart(c: Container, fault: Fault, service: str) -> str:
    c.restart(timeout=int(fault.params.get("timeout", 10)))
    return f"restarted {service}"


_ACTS: dict[str, Callable[[Container, Fault, str], str]] = {
    "kill": _kill, "stop": _stop, "freeze": _freeze, "restart": _restart}


def inject(ctx: FaultContext, fault: Fault, key: str) -> Injection:
    """Register the heal for every node first, then act on each node."""
    act = _ACTS.get(fault.type)
    if act is None:
        raise ValueError(f"not a process fault: {fault.type}")
    nodes = ctx.targets(fault)
    if fault.type == "freeze":
        heals = [HealAction("unpause", container=n.container_id, name=n.container_name) for n in nodes]
    else:
        heals = [HealAction("start", container=n.container_id, name=n.container_name) for n in nodes]
    ctx.ledger.register(key, fault.id, fault.type, heals)
    details = [act(ctx.view.container(node), fault, node.service) for node in nodes]
    return Injection(targets=nodes, detail="; ".join(details))


def _start(action: HealAction, env: HealEnv) -> str:
    c = env.docker().containers.get(action.container)
    if c.status == "paused":
        c.unpause()
    if c.status != "running":
        c.start()
        return f"started {c.name}"
    return f"{c.name} already running"


def _unpause(action: HealAction, env: HealEnv) -> str:
    c = env.docker().containers.get(action.container)
    if c.status == "paused":
        c.unpause()
        return f"unpaused {c.name}"
    return f"{c.name} not paused"


def leftovers(ctx: FaultContext) -> list[str]:
    """Nodes still paused (a freeze whose heal did not run)."""
    found: list[str] = []
    if ctx.client is None:
        return found
    for node in ctx.view.nodes.values():
        try:
            if ctx.client.containers.get(node.container_id).status == "paused":
                found.append(f"{node.service} still paused")
        except Exception:  # gone or unreadable: nothing of ours is paused there
            pass
    return found


FAMILY = Family("process", inject, {"start": _start, "unpause": _unpause}, leftovers)
