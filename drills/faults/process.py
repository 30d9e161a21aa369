"""Process faults through Docker: kill (any signal), stop (graceful), freeze (pause), restart.

Healed by starting (kill, stop; restart heals itself) or unpausing (freeze) the container again.
An inject calls the engine once per node, by container id (the target was just resolved against fresh
containers: reading each one again first cost a round trip), and acts on several nodes at once. A kill is in
once the engine has sent the signal (signal_sent.py); the heal waits for Docker's teardown to end first.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from drills.faults.context import FaultContext, HealEnv, Injection
from drills.faults.family import Family
from drills.faults.ledger import HealAction
from drills.faults.signal_sent import send_signal
from drills.platform.inventory import Node
from drills.scenario.model import Fault


def _kill(ctx: FaultContext, cid: str, fault: Fault, service: str) -> str:
    sig = str(fault.params.get("signal", "SIGKILL"))
    call, _sent_at = send_signal(ctx.client.api, cid, sig)
    if not call.done():
        ctx.unsettled[cid] = call   # Docker is still tearing it down: the heal waits for that
    return f"{sig} {service}"


def _stop(ctx: FaultContext, cid: str, fault: Fault, service: str) -> str:
    ctx.client.api.stop(cid, timeout=int(fault.params.get("timeout", 10)))
    return f"stopped {service}"


def _freeze(ctx: FaultContext, cid: str, fault: Fault, service: str) -> str:
    ctx.client.api.pause(cid)
    return f"paused {service}"


def _restart(ctx: FaultContext, cid: str, fault: Fault, service: str) -> str:
    ctx.client.api.restart(cid, timeout=int(fault.params.get("timeout", 10)))
    return f"restarted {service}"


_ACTS: dict[str, Callable[[FaultContext, str, Fault, str], str]] = {
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

    def one(node: Node) -> str:
        return act(ctx, node.container_id, fault, node.service)

    if len(nodes) == 1:
        details = [one(nodes[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(8, len(nodes))) as pool:
            details = list(pool.map(one, nodes))
    return Injection(targets=nodes, detail="; ".join(details))


def _start(action: HealAction, env: HealEnv) -> str:
    env.settle(action.container or "")   # a kill's teardown still going on (its outcome shows in what follows)
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
