"""The nodes of a system under test as Docker sees them (containers, static roles, addresses), and where to
ask about the roles that move (Patroni, or an attached system's own role probes). Faults resolve targets
against it; probes sample it."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import docker
from docker.errors import APIError, NotFound

from drills.platform import compose, container_list, labels, patroni, zones
from drills.platform.role_probes import Answer, ask, docker_run, holders, http_get
from drills.scenario.model import RoleProbe


class TargetError(RuntimeError):
    """A target that does not exist (now): the fault is recorded as failed with this reason."""


@dataclass(frozen=True)
class Node:
    service: str          # the node's name in the drill: pg1, redis-a, or one replica of a compose service: sentinel-2
    container_id: str
    container_name: str
    role: str             # static role: postgres, api, lb, proxy, etcd, or the user's own (roles, drills.role label)
    ips: tuple[str, ...]  # addresses on the stack's network(s)
    group: str = ""       # the compose service a replica belongs to ("": the node is a service of its own)
    networks: tuple[str, ...] = ()   # the Docker networks `ips` are on
    gateways: tuple[str, ...] = ()   # their gateways: the source of clients reaching a published port
    published: tuple[int, ...] = ()  # host ports the container publishes
    zone: str = ""                   # labels.ZONE ("": zoneless, or an attached container without the label)

    def answers_to(self, name: str) -> bool:
        """`name` in a scenario means this node: its own name, its compose service, or its container name."""
        return name in (self.service, self.group, self.container_name)

    def matches(self, pattern: str) -> bool:
        """A target's `service` (a name or a pattern like api*) selects this node or its compose service."""
        return fnmatch.fnmatch(self.service, pattern) or bool(self.group and fnmatch.fnmatch(self.group, pattern))


@dataclass
class StackView:
    """The nodes of one system under test, and where to ask about the roles that move."""

    client: docker.DockerClient
    nodes: dict[str, Node] = field(default_factory=dict)
    patroni_urls: dict[str, str] = field(default_factory=dict)
    toxiproxy_url: str | None = None
    network: str | None = None
    label_filter: str | None = None                           # reference stack: drills.stack=<name>
    names: dict[str, str] = field(default_factory=dict)       # attached: service -> container name
    roles: dict[str, str] = field(default_factory=dict)       # attached: service -> static role
    compose_project: str | None = None                        # attached: every container of this project
    role_probes: dict[str, RoleProbe] = field(default_factory=dict)   # attached: dynamic role -> its probe
    entry_ports: tuple[int, ...] = ()   # host ports clients use (the API's): who publishes one faces the clients
    # attached: a network fault's peers are every container on the target's Docker networks, declared or not
    # (the reference stack's nodes are all of its network already)
    whole_networks: bool = False

    @classmethod
    def of_reference_stack(cls, client: docker.DockerClient, stack: str, endpoints: dict) -> StackView:
        view = cls(client, patroni_urls=dict(endpoints.get("patroni", {})), toxiproxy_url=endpoints.get("toxiproxy"),
                   network=f"drills-{stack}", label_filter=f"{labels.STACK}={stack}",
                   entry_ports=port_of(endpoints.get("api")))
        view.refresh()
        return view

    def refresh(self) -> None:
        """Re-read containers (addresses change when a container restarts). A container the scenario names that
        does not exist is a TargetError naming every one missing."""
        found: dict[str, Node] = {}
        if self.label_filter:
            for c in container_list.listed(self.client, {"label": self.label_filter}):   # one request
                if c.labels.get(labels.KIND):  # our sidecars are not targets
                    continue
                service = c.labels.get(labels.SERVICE, c.name)
                found[service] = _node(c, service, self.roles.get(service) or c.labels.get(labels.ROLE, "?"),
                                       self.network)
        if self.compose_project:
            listed = self.client.containers.list(all=True, filters=compose.project_filter(self.compose_project))
            for key, m in compose.members(listed).items():
                role = self.roles.get(key) or self.roles.get(m.service) or m.container.labels.get(labels.ROLE, "?")
                found[key] = _node(m.container, key, role, self.network, group=m.service)
        missing = []
        for service, name in self.names.items():
            try:
                c = self.client.containers.get(name)
            except NotFound:
                missing.append(f"container {name!r} (service {service}) does not exist")
                continue
            found[service] = _node(c, service, self.roles.get(service, "?"), self.network)
        if missing:
            raise TargetError("; ".join(missing))
        self.nodes = found or self.nodes

    def current_roles(self) -> dict[str, str]:
        """The roles that move, now: Patroni's (service -> leader / sync_standby / replica), then each role
        probe's holders (a node holding two probed roles shows the first declared). A Patroni leader counts
        only when it says so itself (a leader killed and restarted a moment ago is still "running" in the DCS
        until its Patroni is back; a fault aimed at "the leader" then would hit a node that leads nothing)."""
        roles: dict[str, str] = {}
        if self.patroni_urls:
            members = patroni.cluster_from_any(list(self.patroni_urls.values()), timeout=1.0) or []
            roles = {m.name: m.role for m in members if m.state in ("running", "streaming")}
            for name, role in list(roles.items()):
                if role == "leader" and not patroni.serves_as_primary(self.patroni_urls.get(name)):
                    del roles[name]
        for role in self.role_probes:
            for node in holders(self.probe(role)):
                roles.setdefault(node, role)
        return roles

    def probe(self, role: str) -> list[Answer]:
        """Ask the role's probe now: one answer per container it names."""
        return ask(self.role_probes[role], self.nodes.values(), docker_run(self.client), http_get())

    def container(self, node: Node):
        return self.client.containers.get(node.container_id)

    def vip(self) -> str | None:
        """The load balancers' virtual IP (the reference stack with zones >= 2), from its network's plan."""
        if not self.network or not self.label_filter:
            return None
        try:
            attrs = self.client.networks.get(self.network).attrs
        except (NotFound, APIError):
            return None
        addrs = zones.addresses_of_network(attrs, sorted(n.service for n in self.nodes.values()
                                                         if n.role == zones.LB_ROLE))
        return addrs.vip if addrs else None

    def vip_holders(self) -> list[str]:
        """The load balancers that hold the VIP now (one when healthy; [] without a VIP)."""
        vip = self.vip()
        if vip is None:
            return []
        lbs = {}
        for n in self.nodes.values():
            if n.role == zones.LB_ROLE:
                try:
                    lbs[n.service] = self.container(n)
                except (NotFound, APIError):
                    continue   # removed since the last refresh: holds nothing
        return zones.vip_holders(lbs, vip)

    # ---- who a network fault on a node cuts off (docs/scenario-format.md, network faults) -----------------------
    def peer_ips(self, node: Node) -> list[str]:
        """Every address that talks to `node` inside the system: the other nodes, and for an attached system every
        other container on the node's Docker networks (a Sentinel nobody declared still reaches a Redis)."""
        ips = {ip for n in self.nodes.values() if n.service != node.service for ip in n.ips}
        if self.whole_networks:
            for net in node.networks:
                ips |= self._network_ips(net)
        return sorted(ips - set(node.ips))

    def client_ips(self, node: Node) -> list[str]:
        """Where the clients of a node that faces them come from: a load balancer (role lb) or the container
        publishing the API's port is reached through the published port, i.e. from its networks' gateway."""
        faces_clients = node.role == "lb" or bool(set(node.published) & set(self.entry_ports))
        return sorted(set(node.gateways)) if faces_clients else []

    def _network_ips(self, network: str) -> set[str]:
        try:
            attached = self.client.networks.get(network).attrs.get("Containers") or {}
        except (NotFound, APIError):
            return set()
        return {str(v.get("IPv4Address", "")).split("/")[0] for v in attached.values() if v.get("IPv4Address")}


def port_of(url: str | None) -> tuple[int, ...]:
    """The port of a loopback URL (the API clients use), as a tuple for StackView.entry_ports."""
    try:
        port = urlsplit(url).port if url else None
    except ValueError:
        return ()
    return (port,) if port else ()


def _node(c, service: str, role: str, network: str | None, group: str = "") -> Node:
    settings = c.attrs.get("NetworkSettings") or {}
    nets = {k: v for k, v in (settings.get("Networks") or {}).items() if network is None or k == network}
    ips = tuple(v.get("IPAddress") for v in nets.values() if v.get("IPAddress"))
    gateways = tuple(v.get("Gateway") for v in nets.values() if v.get("Gateway"))
    published = tuple(sorted({int(b["HostPort"]) for binds in (settings.get("Ports") or {}).values() if binds
                              for b in binds if str(b.get("HostPort", "")).isdigit()}))
    found = c.labels or {}
    # The reference stack's two load balancers answer to `haproxy` (labels.GROUP) as compose replicas do to
    # their service.
    return Node(service, c.id, c.name, role, ips, group=group or found.get(labels.GROUP, ""), networks=tuple(nets),
                gateways=gateways, published=published, zone=found.get(labels.ZONE, ""))
