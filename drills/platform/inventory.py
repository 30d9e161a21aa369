"""The nodes of a system under test as Docker sees them (containers, static roles, addresses), and where to
ask about the roles that move (Patroni). Faults resolve targets against it; probes sample it."""

from __future__ import annotations

from dataclasses import dataclass, field

import docker
from docker.errors import NotFound

from drills.platform import labels, patroni


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
        """Patroni's view now: service -> leader / sync_standby / replica. A leader counts only when it says
        so itself (a leader killed and restarted a moment ago is still "running" in the DCS until its Patroni
        is back; a fault aimed at "the leader" then would hit a node that leads nothing)."""
        members = patroni.cluster_from_any(list(self.patroni_urls.values()), timeout=1.0) or []
        roles = {m.name: m.role for m in members if m.state in ("running", "streaming")}
        for name, role in list(roles.items()):
            if role == "leader" and not patroni.serves_as_primary(self.patroni_urls.get(name)):
                del roles[name]
        return roles

    def container(self, node: Node):
        return self.client.containers.get(node.container_id)


def _node(c, service: str, role: str, network: str | None) -> Node:
    nets = (c.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    ips = tuple(v.get("IPAddress") for k, v in nets.items() if v.get("IPAddress") and (network is None or k == network))
    return Node(service, c.id, c.name, role, ips)
