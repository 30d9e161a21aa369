"""Process faults through Docker: kill (any signal), stop (graceful), freeze (pause), restart."""

from __future__ import annotations

from drills.faults.context import FaultContext, Injection
from drills.faults.heal import HealAction
from drills.faults.targets import Node
from drills.scenario.model import Fault


def inject(ctx: FaultContext, fault: Fault, key: str, nodes: list[Node]) -> Injection:
    """Register the heal for every node first, then act on each node."""
    heal_kind = "unpause" if fault.type == "freeze" else "start"
    ctx.ledger.register(key, fault.id, fault.type,
                        [HealAction(heal_kind, container=n.container_id, name=n.container_name) for n in nodes])
    details = []
    for node in nodes:
        c = ctx.view.container(node)
        if fault.type == "kill":
            sig = str(fault.params.get("signal", "SIGKILL"))
            c.kill(signal=sig)
            details.append(f"{sig} {node.service}")
        elif fault.type == "stop":
            c.stop(timeout=int(fault.params.get("timeout", 10)))
            details.append(f"stopped {node.service}")
        elif fault.type == "freeze":
            c.pause()
            details.append(f"paused {node.service}")
        elif fault.type == "restart":
            c.restart(timeout=int(fault.params.get("timeout", 10)))
            details.append(f"restarted {node.service}")
        else:
            raise ValueError(f"not a process fault: {fault.type}")
    return Injection(targets=nodes, detail="; ".join(details))
