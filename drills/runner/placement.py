"""The zones event: where each node of the system under test lives, written once at stack_ready so the checks
can judge per zone (drills/checks/zones.py) without the stack.

Read from the nodes the system reports (`Node.zone`, from the `drills.zone` container label): the reference
stack labels its zoned containers (drills/platform/zones.py places them), an attached system may label its own.
Zoneless nodes (Toxiproxy, monitoring, sidecars) are left out; a system without labels writes no event.
"""

from __future__ import annotations

from drills.checks.per_zone import ZONES_EVENT
from drills.platform.inventory import StackView
from drills.rundir.writers import EventLog


def zone_placement(view: StackView) -> dict[str, str]:
    """service -> zone letter of every node that has a zone."""
    return {service: node.zone for service, node in sorted(view.nodes.items()) if node.zone}


def record_zones(view: StackView, events: EventLog) -> dict[str, str]:
    """Write the placement as a `zones` event (not when no node has a zone); returns it."""
    zones = zone_placement(view)
    if zones:
        events.emit("run", name=ZONES_EVENT, zones=zones)
    return zones


def client_probe_url(endpoints: dict) -> str | None:
    """The clients' address when load balancers share it (two or more runtime APIs: a VIP), so the probes ask
    which one answers there; None otherwise (one LB, or an attached system)."""
    admins = endpoints.get("haproxy_admin")
    api = endpoints.get("api")
    return api if isinstance(admins, dict) and len(admins) >= 2 and isinstance(api, str) else None
