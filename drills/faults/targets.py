"""Who a fault hits: nodes of the system under test, resolved at the moment of injection.

A role such as "leader" means the Patroni leader *now*, not when the drill started; a random selection
draws from the drill's seeded RNG, so a run can be reproduced with the same seed.
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass, field

import docker
from docker.errors import NotFound

from drills.platform import etcd, labels, patroni
from drills.scenario.model import Target


class TargetError(RuntimeError):
    """A target that does not exist (now): the fault is recorded as failed with this reason."""


@dataclass(frozen=True)
class Node:
    service: str
    container_id: str
    container_name: str
    role: str            # static role: postgres, api, lb, proxy, etcd, or the user's label
    ips: tuple[str, ...]  # addresses on the stack's network(s)


@dataclass
class StackView:
    """The nodes of one system under test, and where to ask Patroni about roles."""

    client: docker.DockerClient
    nodes: dict[str, Node] = field(default_factory=dict)
    patroni_urls: dict[str, str] = field(default_factory=dict)
    toxiproxy_url: str | None = None
    network: str | None = None
    label_filter: str | None = None                           # reference stack: drills.stack=<name>
    names: dict[str, str] = field(default_factory=dict)       # attached: service -> container name
    roles: dict[str, str] = field(default_factory=dict)       # attached: service -> static role

    @classmethod
    def of_reference_stack(cls, client: docker.DockerClient, stack: str, endpoints: dict) -> StackView:
        view = cls(client, patroni_urls=dict(endpoints.get("patroni", {})), toxiproxy_url=endpoints.get("toxiproxy"),
                   network=f"drills-{stack}", label_filter=f"{labels.STACK}={stack}")
        view.refresh()
        return view

    def refresh(self) -> None:
        """Re-read containers (addresses change when a container restarts)."""
        found: dict[str, Node] = {}
        if self.label_filter:
            for c in self.client.containers.list(all=True, filters={"label": self.label_filter}):
                if c.labels.get(labels.KIND):  # our sidecars are not targets
                    continue
                service = c.labels.get(labels.SERVICE, c.name)
                found[service] = _node(c, service, self.roles.get(service) or c.labels.get(labels.ROLE, "?"),
                                       self.network)
        for service, name in self.names.items():
            try:
                c = self.client.containers.get(name)
            except NotFound:
                raise TargetError(f"container {name!r} (service {service}) does not exist") from None
            found[service] = _node(c, service, self.roles.get(service, "?"), self.network)
        self.nodes = found or self.nodes

    def current_roles(self) -> dict[str, str]:
        """Patroni's view now: service -> leader / sync_standby / replica."""
        members = patroni.cluster_from_any(list(self.patroni_urls.values()), timeout=1.0) or []
        return {m.name: m.role for m in members if m.state in ("running", "streaming")}

    def container(self, node: Node):
        return self.client.containers.get(node.container_id)


def candidates(target: Target, view: StackView) -> list[Node]:
    """Every node the target could mean right now (before selection)."""
    if target.service:
        matches = [n for s, n in view.nodes.items() if fnmatch.fnmatch(s, target.service)]
        if not matches:
            raise TargetError(f"no service matches {target.service!r} (have: {', '.join(sorted(view.nodes))})")
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


def _node(c, service: str, role: str, network: str | None) -> Node:
    nets = (c.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    ips = tuple(v.get("IPAddress") for k, v in nets.items() if v.get("IPAddress") and (network is None or k == network))
    return Node(service, c.id, c.name, role, ips)
