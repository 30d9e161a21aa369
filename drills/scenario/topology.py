"""Which services, roles and links a scenario's faults may name, given its `stack` section.

For the reference stack everything is known in advance (the names match drills/platform/stack_spec.py);
for an attached stack only what the scenario declares is, and anything found by a label selector or a compose
project is not (a compose service may also have several replicas: known when the drill attaches).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drills.scenario.model import TARGET_ROLES, AttachedStack, ReferenceStack, StackSection

PATRONI_ROLES = ("leader", "sync_standby", "replica")      # resolved from Patroni at injection time
ETCD_ROLES = ("etcd_leader",)                              # resolved from etcd at injection time
LB_ROLES = ("lb_active",)                                  # the load balancer holding the VIP (zones >= 2)
DYNAMIC_ROLES = (*PATRONI_ROLES, *ETCD_ROLES, *LB_ROLES)
STATIC_ROLES = tuple(r for r in TARGET_ROLES if r not in DYNAMIC_ROLES)  # postgres, api, lb, etcd, proxy
REFERENCE_DB_NODES = REFERENCE_ETCD_NODES = 3
# An attached system names its own roles (static in stack.attach.roles or a drills.role label, dynamic in
# stack.attach.role_probes): `database`, `sentinel`, `leader`.
ROLE_PATTERN = r"[a-z][a-z0-9_-]{0,31}"
ROLE_HELP = "a role name of lower-case letters, digits, '-' and '_' (at most 32), starting with a letter"


@dataclass(frozen=True)
class Topology:
    """What can be checked before the drill runs; None means "not known until run time"."""

    services: tuple[str, ...] | None
    roles: tuple[str, ...] | None
    links: tuple[str, ...] | None
    can_target_containers: bool        # process/network faults have something to act on
    has_toxiproxy: bool
    attached: bool
    # The most nodes each role can resolve to (a target's `count` cannot exceed it); None: found at run time.
    role_sizes: dict[str, int] | None = field(default=None)
    zones: int | None = None           # the reference stack's zone count (a target's zone letter); None: attached


def reference_services(ref: ReferenceStack) -> tuple[str, ...]:
    """The reference stack's fault targets; with zero-RPO backups also the WAL stream (a drill may kill it:
    acknowledgements then wait, as synchronous_mode_strict makes commits wait)."""
    return (*(f"etcd{i}" for i in range(1, REFERENCE_ETCD_NODES + 1)),
            *(f"pg{i}" for i in range(1, REFERENCE_DB_NODES + 1)),
            *(f"api{i}" for i in range(1, ref.api_replicas + 1)), *reference_lbs(ref), "toxiproxy",
            *(("walstream",) if ref.zero_rpo_backups else ()))


def reference_lbs(ref: ReferenceStack) -> tuple[str, ...]:
    """The load balancers (drills/platform/zones.py lb_names): `haproxy` with one zone; with more, haproxy1 and
    haproxy2, and `haproxy` names either (a group, like a compose service with two replicas)."""
    return ("haproxy",) if ref.zones < 2 else ("haproxy", "haproxy1", "haproxy2")


def reference_links(ref: ReferenceStack) -> tuple[str, ...]:
    """Toxiproxy proxies: each API replica to the database, and the load balancer to each replica."""
    replicas = range(1, ref.api_replicas + 1)
    return (*(f"api{i}_db" for i in replicas), *(f"lb_api{i}" for i in replicas))


def reference_role_sizes(ref: ReferenceStack) -> dict[str, int]:
    """Nodes per role of the reference stack: 3 database nodes (one leader, one synchronous standby), 3 etcd
    members, `api_replicas` API replicas, one HAProxy (two with zones >= 2, one of them holding the VIP) and one
    Toxiproxy."""
    lbs = {"lb": 1} if ref.zones < 2 else {"lb": 2, "lb_active": 1}
    return {"leader": 1, "sync_standby": 1, "replica": REFERENCE_DB_NODES - 1, "postgres": REFERENCE_DB_NODES,
            "api": ref.api_replicas, **lbs, "etcd": REFERENCE_ETCD_NODES, "etcd_leader": 1, "proxy": 1}


def most_nodes(topo: Topology, service: str | None, role: str | None) -> tuple[int, str] | None:
    """The most containers a target naming `service` or `role` can resolve to, and why; None when unknown."""
    if service is not None:
        # A discovered service (a compose service) may run several replicas: known only when attached.
        if topo.attached and topo.services is None:
            return None
        if not topo.attached and service == "haproxy" and "haproxy1" in (topo.services or ()):
            return 2, "`haproxy` names the reference stack's 2 load balancers"
        return 1, "a service is one container"
    if role is None or topo.role_sizes is None or role not in topo.role_sizes:
        return None
    n = topo.role_sizes[role]
    where = "the attached stack" if topo.attached else "the reference stack"
    return n, f"{where} has at most {n} {role} node{'' if n == 1 else 's'}"


def topology_of(stack: StackSection) -> Topology:
    if isinstance(stack, AttachedStack):
        return _attached(stack)
    roles = TARGET_ROLES if stack.zones >= 2 else tuple(r for r in TARGET_ROLES if r not in LB_ROLES)
    return Topology(reference_services(stack), roles, reference_links(stack), True, True, False,
                    reference_role_sizes(stack), zones=stack.zones)


def _attached(attach: AttachedStack) -> Topology:
    discovered = attach.label_selector is not None or attach.compose_project is not None
    services = None if discovered else tuple(attach.containers)
    roles: tuple[str, ...] | None = None
    sizes: dict[str, int] | None = None
    if not discovered:
        roles = attached_roles(attach)
        sizes = _attached_sizes(attach, roles)
    return Topology(services, roles, None, bool(attach.containers) or discovered,
                    attach.toxiproxy_url is not None, True, sizes)


def attached_roles(attach: AttachedStack) -> tuple[str, ...]:
    """The roles an attached stack declares: the static ones of `roles`, the dynamic ones of `role_probes`,
    and Patroni's (and etcd's leader) when it gives the means to ask them. A role probe replaces Patroni's
    role of the same name."""
    known = set(attach.roles.values()) | set(attach.role_probes)
    if attach.patroni_urls:
        known |= {"postgres", *PATRONI_ROLES}
    if "etcd" in known:
        known |= set(ETCD_ROLES)
    return (*(r for r in TARGET_ROLES if r in known), *sorted(known - set(TARGET_ROLES)))


def _attached_sizes(attach: AttachedStack, roles: tuple[str, ...]) -> dict[str, int]:
    """Static roles: the services declared with them; Patroni's: at most every container (one leader); a role
    probe's: at most the containers it asks."""
    n = len(attach.containers)
    declared = {r: sum(1 for v in attach.roles.values() if v == r) for r in roles}
    patroni = {"leader": 1, "sync_standby": max(n - 1, 0), "replica": max(n - 1, 0),
               "postgres": max(declared.get("postgres", 0), n if attach.patroni_urls else 0), "etcd_leader": 1}
    probed = {r: len(set(p.services) | set(p.http)) for r, p in attach.role_probes.items()}
    return {r: probed.get(r, patroni.get(r, declared[r])) for r in roles}
