"""Who a fault hits: nodes of the system under test, resolved at the moment of injection.

A role such as "leader" means the leader *now* (Patroni's, or the holder an attached system's role probe finds),
not when the drill started; a compose service with several replicas is selected among like a role; a random
selection draws from the drill's seeded RNG, so a run can be reproduced with the same seed.
"""

from __future__ import annotations

import random

from drills.platform import etcd, role_probes
from drills.platform.inventory import Node, StackView, TargetError
from drills.scenario.model import Target


def candidates(target: Target, view: StackView) -> list[Node]:
    """Every node the target could mean right now (before selection)."""
    if target.service:
        matches = [n for n in view.nodes.values() if n.matches(target.service)]
        if not matches:
            raise TargetError(f"no service matches {target.service!r} (have: {', '.join(service_names(view))})")
        return sorted(matches, key=lambda n: n.service)
    if target.label:
        key, _, value = target.label.partition("=")
        out = []
        for n in view.nodes.values():
            c = view.container(n)
            if c.labels.get(key) == value or (not value and key in c.labels):
                out.append(n)
        if not out:
            raise TargetError(f"no container carries the label {target.label!r}")
        return sorted(out, key=lambda n: n.service)
    role = target.role or ""
    if role in view.role_probes:
        return _probed(view, role)
    if role in ("leader", "sync_standby", "replica"):
        dynamic = view.current_roles()
        wanted = {"replica": ("replica", "sync_standby")}.get(role, (role,))
        out = [view.nodes[s] for s, r in sorted(dynamic.items()) if r in wanted and s in view.nodes]
        if not out:
            raise TargetError(f"no Patroni {role} right now (roles: {dynamic or 'no Patroni node answers'})")
        return out
    if role == "etcd_leader":
        return [_etcd_leader(view)]
    out = [n for n in view.nodes.values() if n.role == role]
    if not out:
        raise TargetError(f"no node has the role {role!r}")
    return sorted(out, key=lambda n: n.service)


def service_names(view: StackView) -> list[str]:
    """The names a target's `service` can use: every node, and each compose service with several replicas."""
    return sorted({n.service for n in view.nodes.values()} | {n.group for n in view.nodes.values() if n.group})


def _probed(view: StackView, role: str) -> list[Node]:
    """The holders of a role the attached system's own probe finds, asked now."""
    answers = view.probe(role)
    out = [view.nodes[s] for s in role_probes.holders(answers) if s in view.nodes]
    if not out:
        said = "; ".join(f"{a.node}: {a.error or a.said or 'no output'}" for a in answers) or "no container to ask"
        raise TargetError(f"no container holds the role {role!r} right now ({said})")
    return out


def _etcd_leader(view: StackView) -> Node:
    """The etcd member that leads now (asked of etcd), matched to a node by service or container name."""
    members = sorted((n for n in view.nodes.values() if n.role == "etcd"), key=lambda n: n.service)
    if not members:
        raise TargetError("no node has the role 'etcd'")
    name, why = etcd.leader_name([view.container(n) for n in members])
    if name is None:
        raise TargetError(f"no etcd leader right now: {why}")
    for n in members:
        if name in (n.service, n.container_name):
            return n
    raise TargetError(f"the etcd leader {name!r} is none of the etcd nodes ({', '.join(n.service for n in members)})")


def select(nodes: list[Node], target: Target, rng: random.Random) -> list[Node]:
    """Apply one / all / N / minority / majority / random with the drill's seeded RNG."""
    n = len(nodes)
    if target.count is not None:
        k = min(target.count, n)
    elif target.select == "all":
        return list(nodes)
    elif target.select == "minority":
        k = max(1, (n - 1) // 2)
    elif target.select == "majority":
        k = n // 2 + 1
    elif target.select == "random":
        k = rng.randint(1, n)
    else:
        k = 1
    return sorted(rng.sample(nodes, k), key=lambda x: x.service)


def resolve(target: Target, view: StackView, rng: random.Random) -> list[Node]:
    return select(candidates(target, view), target, rng)
