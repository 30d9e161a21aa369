"""Which services, roles and links a scenario's faults may name, given its `stack` section.

For the reference stack everything is known in advance (the names match drills/platform/stack_spec.py);
for an attached stack only what the scenario declares is, and anything found by a label selector is not.
"""

from __future__ import annotations

from dataclasses import dataclass

from drills.scenario.model import TARGET_ROLES, AttachedStack, ReferenceStack, StackSection

PATRONI_ROLES = ("leader", "sync_standby", "replica")      # resolved from Patroni at injection time
ETCD_ROLES = ("etcd_leader",)                              # resolved from etcd at injection time
DYNAMIC_ROLES = (*PATRONI_ROLES, *ETCD_ROLES)
STATIC_ROLES = tuple(r for r in TARGET_ROLES if r not in DYNAMIC_ROLES)  # postgres, api, lb, etcd, proxy
REFERENCE_DB_NODES = REFERENCE_ETCD_NODES = 3


@dataclass(frozen=True)
class Topology:
    """What can be checked before the drill runs; None means "not known until run time"."""

    services: tuple[str, ...] | None
    roles: tuple[str, ...] | None
    links: tuple[str, ...] | None
    can_target_containers: bool        # process/network faults have something to act on
    has_toxiproxy: bool
    attached: bool


def reference_services(ref: ReferenceStack) -> tuple[str, ...]:
    return (*(f"etcd{i}" for i in range(1, REFERENCE_ETCD_NODES + 1)),
            *(f"pg{i}" for i in range(1, REFERENCE_DB_NODES + 1)),
            *(f"api{i}" for i in range(1, ref.api_replicas + 1)), "haproxy", "toxiproxy")


def reference_links(ref: ReferenceStack) -> tuple[str, ...]:
    """Toxiproxy proxies: each API replica to the database, and the load balancer to each replica."""
    replicas = range(1, ref.api_replicas + 1)
    return (*(f"api{i}_db" for i in replicas), *(f"lb_api{i}" for i in replicas))


def topology_of(stack: StackSection) -> Topology:
    if isinstance(stack, AttachedStack):
        return _attached(stack)
    return Topology(reference_services(stack), TARGET_ROLES, reference_links(stack), True, True, False)


def _attached(attach: AttachedStack) -> Topology:
    discovered = attach.label_selector is not None
    services = None if discovered else tuple(attach.containers)
    roles: tuple[str, ...] | None = None
    if not discovered:
        known = set(attach.roles.values())
        if attach.patroni_urls:
            known |= {"postgres", *PATRONI_ROLES}
        if "etcd" in known:
            known |= set(ETCD_ROLES)
        roles = tuple(r for r in TARGET_ROLES if r in known)
    return Topology(services, roles, None, bool(attach.containers) or discovered,
                    attach.toxiproxy_url is not None, True)
