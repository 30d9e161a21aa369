"""Who a fault hits: nodes of the system under test, resolved at the moment of injection.

A role such as "leader" means the leader *now* (Patroni's, or the holder an attached system's role probe finds),
not when the drill started; a compose service with several replicas is selected among like a role; a random
selection draws from the drill's seeded RNG, so a run can be reproduced with the same seed.
"""

from __future__ import annotations

import random

from drills.platform import etcd, role_probes
from drills.platform.inventory import Node, StackView, TargetError
from drills.platform.zones import served_by
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
    if target.zone:
        return zone_members(view, target.zone)
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
    if role == "lb_active":
        return _lb_active(view)
    out = [n for n in view.nodes.values() if n.role == role]
    if not out:
        raise TargetError(f"no node has the role {role!r}")
    return sorted(out, key=lambda n: n.service)


def zone_members(view: StackView, zone: str) -> list[Node]:
    """Every node of a zone now (its drills.zone label). `leader`: the zone of the Patroni leader now;
    `replica`: the first zone (in letter order) without the leader where a database replica runs. Zoneless
    instruments (Toxiproxy, monitoring, the WAL stream) are in none."""
    letter = _zone_of_role(view, zone) if zone in ("leader", "replica") else zone
    out = [n for n in view.nodes.values() if n.zone == letter]
    if not out:
        zones = sorted({n.zone for n in view.nodes.values() if n.zone})
        have = f"zones: {', '.join(zones)}" if zones else "no container carries a drills.zone label"
        raise TargetError(f"no container is in zone {letter!r} ({have})")
    return sorted(out, key=lambda n: n.service)


def _zone_of_role(view: StackView, which: str) -> str:
    roles = {s: r for s, r in view.current_roles().items() if s in view.nodes}
    leaders = sorted(s for s, r in roles.items() if r == "leader")
    if not leaders:
        raise TargetError(f"no Patroni leader right now: the {which}'s zone is unknown")
    leader_zone = view.nodes[leaders[0]].zone
    if not leader_zone:
        raise TargetError(f"the leader {leaders[0]} is in no zone (its container carries no drills.zone label)")
    if which == "leader":
        return leader_zone
    others = sorted({view.nodes[s].zone for s, r in roles.items()
                     if r in ("replica", "sync_standby") and view.nodes[s].zone not in ("", leader_zone)})
    if not others:
        raise TargetError(f"no database replica runs outside the leader's zone {leader_zone} right now")
    return others[0]


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


def _lb_active(view: StackView) -> list[Node]:
    """The load balancer holding the VIP now: the one that answers the clients on it (its X-LB header, a few ms),
    else whichever has it on its interface (asked inside each LB: an LB holding it but not answering)."""
    vip = view.vip()
    if vip is None:
        raise TargetError("no virtual IP in this system (the reference stack has one with zones >= 2)")
    served = served_by(vip)
    holders = [served] if served in view.nodes else view.vip_holders()
    if not holders:
        raise TargetError(f"no load balancer holds the VIP {vip} right now")
    return [view.nodes[s] for s in holders]


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
