"""Network faults with iptables inside the target's network namespace (the kernel here has no sch_netem).

A sidecar (drills/tools, NET_ADMIN) joins the target's namespace, so targets need neither iptables nor extra
capabilities — and the user's own containers can be targeted too. A drill pre-starts them
(drills/faults/sidecars.py); without a pool each inject starts its own and its heal removes it. Rules live in
chains of our own (DR<hash>I / DR<hash>O) hooked first into INPUT/OUTPUT, so a heal removes exactly ours.
Only the addresses of the system's own containers are matched: no other host is ever involved. Healed by
deleting our chains through the same sidecar (and removing a sidecar started for this fault alone).

Who is cut off (docs/scenario-format.md, network faults): `isolate` and `packet_loss` act on every peer of the
target (StackView.peer_ips: the other nodes, and for an attached system every container on the target's Docker
networks, declared or not) and, for a target that faces the clients (a load balancer, or whoever publishes
the API's port), on the clients too: they come through the published port, from the network's gateway.
`partition` without groups and `partition_oneway` cut the targets from every peer; `partition` with groups
only between the services and roles of its groups.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

from docker.errors import NotFound

from drills.faults.context import FaultContext, HealEnv, Injection
from drills.faults.family import Family
from drills.faults.ledger import HealAction
from drills.faults.sidecars import exec_script, start_sidecar
from drills.faults.targets import candidates
from drills.platform import labels
from drills.platform.inventory import Node, TargetError
from drills.scenario.model import Fault, Target


def inject(ctx: FaultContext, fault: Fault, key: str) -> Injection:
    nodes = ctx.targets(fault)
    plan = _plan(ctx, fault, nodes)  # node -> (drop_in_from, drop_out_to, probability)
    if not plan:
        raise TargetError("the partition leaves nobody on the other side")
    results = apply_plan(ctx, fault, key, plan)
    return Injection(targets=sorted(plan, key=lambda n: n.service), detail="; ".join(results))


Plan = dict[Node, tuple[list[str], list[str], float]]   # node -> (drop in from, drop out to, probability)


def apply_plan(ctx: FaultContext, fault: Fault, key: str, plan: Plan) -> list[str]:
    """Register the fault's ledger entry, then add each node's drop rules in parallel (each node's heal is added
    to the entry before its rules): what every iptables fault does once it knows who is cut from whom (a zone's
    network loss too, drills/faults/zone.py)."""
    ctx.ledger.register(key, fault.id, fault.type, [])
    with ThreadPoolExecutor(max_workers=min(8, len(plan))) as pool:
        return list(pool.map(lambda item: _apply(ctx, fault, key, item[0], *item[1]), plan.items()))


def _plan(ctx: FaultContext, fault: Fault, nodes: list[Node]) -> dict[Node, tuple[list[str], list[str], float]]:
    everyone = list(ctx.view.nodes.values())
    view = ctx.view

    def ips(group: list[Node]) -> list[str]:
        return sorted({ip for n in group for ip in n.ips})

    def everybody(n: Node) -> list[str]:   # its peers and, facing the clients, the clients
        return sorted({*view.peer_ips(n), *view.client_ips(n)})

    def the_rest(n: Node) -> list[str]:    # its peers but the other targets
        targeted = set(ips(nodes))
        return [ip for ip in view.peer_ips(n) if ip not in targeted]

    if fault.type == "isolate":
        return {n: (everybody(n), everybody(n), 1.0) for n in nodes}
    if fault.type == "packet_loss":
        p = float(fault.params.get("percent", 10)) / 100.0
        return {n: (everybody(n), everybody(n), p) for n in nodes}
    if fault.type == "partition_oneway":
        direction = fault.params.get("direction", "in")
        return {n: (the_rest(n) if direction == "in" else [], the_rest(n) if direction == "out" else [], 1.0)
                for n in nodes}
    if fault.type == "partition" and not fault.params.get("groups") and view.whole_networks:
        # the rest is every peer, undeclared ones too: the rules go in the targets alone (nothing else is ours)
        return {n: (rest, rest, 1.0) for n in nodes if (rest := the_rest(n))}
    if fault.type == "partition":
        groups = _groups(ctx, fault, nodes, everyone)
        plan = {}
        for i, group in enumerate(groups):
            others = [n for j, g in enumerate(groups) if j != i for n in g]
            for n in group:
                if others:
                    plan[n] = (ips(others), ips(others), 1.0)
        return plan
    raise ValueError(f"not a network fault: {fault.type}")


def _groups(ctx: FaultContext, fault: Fault, nodes: list[Node], everyone: list[Node]) -> list[list[Node]]:
    """`groups: [[leader], [rest]]` style, or the shorthand: the fault's targets versus every other node."""
    spec = fault.params.get("groups")
    if not spec:
        return [nodes, _others(everyone, nodes)]
    groups: list[list[Node]] = []
    taken: set[str] = set()
    for raw in spec:
        group: list[Node] = []
        for item in raw:
            if item == "rest":
                continue
            # a name is a service (a node, or every replica of a compose service) before it is a role
            is_service = any(n.answers_to(item) for n in everyone)
            t = Target(service=item) if is_service else Target(role=item)
            group.extend(n for n in candidates(t, ctx.view) if n.service not in taken)
        taken.update(n.service for n in group)
        groups.append(group)
    for raw, group in zip(spec, groups, strict=False):
        if "rest" in raw:
            group.extend(n for n in everyone if n.service not in taken)
    return [g for g in groups if g]


def _others(everyone: list[Node], excluded: list[Node]) -> list[Node]:
    names = {n.service for n in excluded}
    return [n for n in everyone if n.service not in names]


def _restore_script(chain_in: str, chain_out: str, drop_in: list[str], drop_out: list[str],
                    probability: float) -> str:
    """The whole fault as one atomic `iptables-restore --noflush` (one process instead of one per rule:
    an isolation of a node with ten peers was ~24 iptables runs)."""
    match = f"-m statistic --mode random --probability {probability:.4f} " if probability < 1.0 else ""
    lines = ["*filter", f":{chain_in} - [0:0]", f":{chain_out} - [0:0]"]
    lines += [f"-A {chain_in} -s {ip} {match}-j DROP" for ip in drop_in]
    lines += [f"-A {chain_out} -d {ip} {match}-j DROP" for ip in drop_out]
    lines += [f"-I INPUT 1 -j {chain_in}", f"-I OUTPUT 1 -j {chain_out}", "COMMIT"]
    return "iptables-restore -w --noflush <<'RULES'\n" + "\n".join(lines) + "\nRULES"


def _apply(ctx: FaultContext, fault: Fault, key: str, node: Node, drop_in: list[str], drop_out: list[str],
           probability: float) -> str:
    c = ctx.view.container(node)
    if c.status != "running":
        raise TargetError(f"{node.service} is {c.status}: cannot enter its network namespace")
    tag = hashlib.sha1(f"{ctx.run_id}:{key}:{node.service}".encode()).hexdigest()[:8]
    chain_in, chain_out = f"DR{tag}I", f"DR{tag}O"
    if ctx.sidecars is not None:  # pre-started: the pool removes it at the end of the run
        sidecar, heals = ctx.sidecars.take(node, c), []
    else:
        sidecar = start_sidecar(ctx.client, ctx.run_id, node, tag)
        heals = [HealAction("remove_container", container=sidecar.id, name=sidecar.name)]
    ctx.ledger.extend(key, heals + [HealAction("iptables_remove", container=node.container_id, name=node.service,
                                               chains=[chain_in, chain_out], sidecar=sidecar.id)])
    script = _restore_script(chain_in, chain_out, drop_in, drop_out, probability)
    code, out = ctx.sidecars.run(sidecar, script) if ctx.sidecars is not None else exec_script(sidecar, script)
    if code != 0:
        raise RuntimeError(f"iptables in {node.service} failed: {out.strip()[-300:]}")
    what = f"{probability:.0%} loss" if probability < 1.0 else "drop"
    return f"{node.service}: {what} in from {len(drop_in)} / out to {len(drop_out)} addresses"


def _remove_script(chains: list[str]) -> str:
    """Unhook and delete our chains: one atomic `iptables-restore` when they are as the inject left them (one
    process: nothing can be left when it succeeds), else one rule at a time (a jump hooked twice, a chain already
    gone) and print whatever of them is left."""
    hooks = [("INPUT" if chain.endswith("I") else "OUTPUT", chain) for chain in chains]
    restore = ["*filter", *[f"-D {hook} -j {chain}" for hook, chain in hooks],
               *[f"-F {chain}" for chain in chains], *[f"-X {chain}" for chain in chains], "COMMIT"]
    one_by_one = "; ".join(f"while iptables -w -D {hook} -j {chain} 2>/dev/null; do :; done; "
                           f"iptables -w -F {chain} 2>/dev/null || true; iptables -w -X {chain} 2>/dev/null || true"
                           for hook, chain in hooks)
    left = " ".join(f"-e {chain}" for chain in chains)
    return (f"iptables-restore -w --noflush 2>/dev/null <<'RULES' || {{ {one_by_one}; "
            f"iptables -w -S | grep -F {left} || true; }}\n" + "\n".join(restore) + "\nRULES")


def _iptables_remove(action: HealAction, env: HealEnv) -> str:
    """Delete our chains in the target's namespace, through the sidecar that added them (its open shell when the
    drill's pool has one, else a fresh exec: `drill clean`)."""
    script = _remove_script(action.chains)
    pool = getattr(env, "sidecars", None)
    got = pool.run_by_id(action.sidecar, script) if pool is not None and action.sidecar else None
    if got is None:
        try:
            sidecar = env.docker().containers.get(action.sidecar)
        except NotFound:
            return f"sidecar for {action.name} gone (the target restarted: its rules went with its namespace)"
        if sidecar.status != "running":
            return f"sidecar for {action.name} not running (the target's namespace is gone with its rules)"
        got = exec_script(sidecar, script)
    code, out = got
    if code != 0 or out.strip():
        raise RuntimeError(f"iptables rules still present on {action.name}: {out.strip()[-300:]}")
    return f"removed iptables chains {','.join(action.chains)} on {action.name}"


def _remove_container(action: HealAction, env: HealEnv) -> str:
    """A sidecar (one started for a single fault, or the drill's pool after a crash)."""
    env.docker().containers.get(action.container).remove(force=True)
    return f"removed {action.name or action.container}"


def leftovers(ctx: FaultContext) -> list[str]:
    """Sidecars of this run still present (their rules may be too)."""
    if ctx.client is None:
        return []
    found = ctx.client.containers.list(all=True, filters={"label": f"{labels.RUN}={ctx.run_id}"})
    return [f"sidecar {c.name} still present" for c in found]


FAMILY = Family("network", inject, {"iptables_remove": _iptables_remove, "remove_container": _remove_container},
                leftovers, sidecars=True)
