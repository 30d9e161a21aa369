"""Zone faults on the reference stack: a zone loses power or its network, or operators shift traffic away from it.

A zone is every container carrying `drills.zone=<letter>` (drills/platform/zones.py places them); `{zone:
leader}` is the zone of the Patroni leader at injection. Heals are data, registered before the act:
- zone_down mode power: SIGKILL every container of the zone at once (in parallel, so no node of the zone
  outlives another long enough to act on it), healed by starting them again (`power_on`);
- zone_down mode network: iptables through the network sidecars (network.apply_plan) cutting each container of
  the zone from every address outside the zone — other zones' containers and the zoneless Toxiproxy and WAL
  stream, so the zone's API replicas are cut from every load balancer — and, for a container that faces the
  clients (a load balancer), from the clients (the bridge gateway); monitoring stays reachable. Healed by
  deleting the chains (the network family's `iptables_remove`);
- zonal_shift: every load balancer drains the zone's API replicas through its HAProxy runtime API (no new
  requests; running ones finish), healed by setting them ready again (`haproxy_ready`). The outcome (which
  servers were drained in which LB) is in the injection's data.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from docker.errors import APIError, NotFound

from drills.errors import PreconditionFailed
from drills.faults.context import FaultContext, HealEnv, Injection
from drills.faults.family import Family, need
from drills.faults.ledger import HealAction
from drills.faults.network import Plan, apply_plan
from drills.faults.targets import candidates
from drills.platform import haproxy_admin, labels
from drills.platform.inventory import Node, StackView, TargetError
from drills.platform.monitoring import ROLE as MONITORING_ROLE
from drills.scenario.model import Fault

API_BACKEND = "api"      # the HAProxy backend of the API replicas; its servers are named like the replicas


def inject(ctx: FaultContext, fault: Fault, key: str) -> Injection:
    if fault.target is None or not fault.target.zone:
        raise TargetError(f"{fault.type} needs target: {{zone: ...}}")
    ctx.view.refresh()
    nodes = candidates(fault.target, ctx.view)
    zone = nodes[0].zone
    if fault.type == "zonal_shift":
        return _shift(ctx, fault, key, zone, nodes)
    if fault.type != "zone_down":
        raise ValueError(f"not a zone fault: {fault.type}")
    if fault.params.get("mode", "power") == "network":
        return _network(ctx, fault, key, zone, nodes)
    return _power(ctx, fault, key, zone, nodes)


def _power(ctx: FaultContext, fault: Fault, key: str, zone: str, nodes: list[Node]) -> Injection:
    ctx.ledger.register(key, fault.id, fault.type,
                        [HealAction("power_on", container=n.container_id, name=n.container_name) for n in nodes])

    def kill(node: Node) -> str:
        try:
            ctx.view.container(node).kill(signal="SIGKILL")
        except APIError as exc:   # not running: a zone losing power finds it already down
            if exc.status_code != 409:
                raise
            return f"{node.service} (already down)"
        return node.service

    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        killed = list(pool.map(kill, nodes))
    return Injection(targets=nodes, detail=f"zone {zone} lost power: SIGKILL {', '.join(killed)}",
                     data={"zone": zone, "mode": "power", "services": [n.service for n in nodes]})


def _power_on(action: HealAction, env: HealEnv) -> str:
    """Start a container of the zone again (power is back); one started meanwhile is left alone."""
    c = env.docker().containers.get(need(action.container, "the container"))
    if c.status == "running":
        return f"{c.name} already running"
    c.start()
    return f"started {c.name}"


def network_plan(ctx: FaultContext, zone: str, nodes: list[Node]) -> Plan:
    """Each container of the zone: drop in from / out to every address outside the zone (monitoring excepted)
    and, facing the clients, the clients' (the gateway)."""
    inside = {n.service for n in nodes}
    outside = sorted({ip for n in ctx.view.nodes.values() if n.service not in inside and n.role != MONITORING_ROLE
                      for ip in n.ips} - {ip for n in nodes for ip in n.ips})
    plan: Plan = {}
    for n in nodes:
        cut = sorted({*outside, *ctx.view.client_ips(n)})
        if cut:
            plan[n] = (cut, cut, 1.0)
    return plan


def _network(ctx: FaultContext, fault: Fault, key: str, zone: str, nodes: list[Node]) -> Injection:
    running = [n for n in nodes if ctx.view.container(n).status == "running"]
    plan = network_plan(ctx, zone, running)
    if not plan:
        raise TargetError(f"zone {zone} has no running container to cut off, or nothing outside it")
    results = apply_plan(ctx, fault, key, plan)
    return Injection(targets=sorted(plan, key=lambda n: n.service),
                     detail=f"zone {zone} cut off: " + "; ".join(results),
                     data={"zone": zone, "mode": "network", "services": sorted(n.service for n in plan),
                           "skipped": sorted(n.service for n in nodes if n not in plan)})


def _shift(ctx: FaultContext, fault: Fault, key: str, zone: str, nodes: list[Node]) -> Injection:
    servers = sorted(n.service for n in nodes if n.role == "api")
    if not servers:
        raise TargetError(f"zone {zone} has no API replica to shift away from")
    lbs = sorted((n for n in ctx.view.nodes.values() if n.role == "lb"), key=lambda n: n.service)
    addresses = {}
    for lb in lbs:
        try:
            container = ctx.view.container(lb)
        except NotFound:
            continue
        address = haproxy_admin.address_of(container) if container.status == "running" else None
        if address:
            addresses[lb] = address
    if not addresses:
        raise TargetError("no running load balancer publishes its HAProxy runtime API")
    ctx.ledger.register(key, fault.id, fault.type, [
        HealAction("haproxy_ready", container=lb.container_id, name=lb.service, admin=address, servers=servers)
        for lb, address in addresses.items()])
    drained: dict[str, list[str]] = {}
    errors: list[str] = []
    for lb, address in addresses.items():
        try:
            haproxy_admin.set_state(address, API_BACKEND, servers, "drain")
            drained[lb.service] = servers
        except haproxy_admin.AdminError as exc:
            errors.append(f"{lb.service}: {exc}")
    if not drained:
        raise RuntimeError("zonal shift failed in every load balancer: " + "; ".join(errors))
    detail = f"zone {zone}: drained {', '.join(servers)} in {', '.join(drained)}"
    return Injection(targets=[n for n in nodes if n.role == "api"],
                     detail=detail + (f" (failed: {'; '.join(errors)})" if errors else ""),
                     data={"zone": zone, "drained": drained, "failed": errors})


def _ready(action: HealAction, env: HealEnv) -> str:
    """Set the shifted servers ready again in one load balancer. One that was restarted since came back with
    its configured states (runtime changes do not survive a restart): nothing to undo there."""
    address = need(action.admin, "the runtime API address")
    try:
        haproxy_admin.set_state(address, API_BACKEND, action.servers, "ready")
    except haproxy_admin.AdminError:
        container = env.docker().containers.get(need(action.container, "the load balancer's container"))
        if container.status != "running" or haproxy_admin.address_of(container) != address:
            return f"{action.name} is {container.status} or was restarted: its servers are in their configured state"
        raise
    return f"set {', '.join(action.servers)} ready in {action.name}"


def check_zone_targets(view: StackView, faults: list[Fault]) -> None:
    """Before any fault (the system is up): every `target: {zone: ...}` has a zone to act on. An attached system's
    zones are its containers' drills.zone labels, which validation cannot see; a missing one is found here, with
    the fault's file:line, instead of at its injection."""
    zones = sorted({n.zone for n in view.nodes.values() if n.zone})
    problems = []
    for i, fault in enumerate(faults):
        wanted = fault.target.zone if fault.target else None
        if not wanted:
            continue
        where = f"{fault.source.file}:{fault.source.line}: " if fault.source else ""
        if not zones:
            problems.append(f"{where}faults[{i}].target.zone: expected containers carrying the label {labels.ZONE} "
                            f"(the zone letter), found none on the system")
        elif wanted not in ("leader", "replica") and wanted not in zones:
            problems.append(f"{where}faults[{i}].target.zone: expected one of the system's zones "
                            f"({', '.join(zones)}), found '{wanted}'")
    if problems:
        raise PreconditionFailed("; ".join(problems), hint=f"label each container of a zone {labels.ZONE}=<letter> "
                                 "(docs/scenario-format.md, zone faults), or target containers another way")


def leftovers(ctx: FaultContext) -> list[str]:
    """API servers an operator state still holds out of some load balancer (a shift whose heal did not run)."""
    found: list[str] = []
    if ctx.client is None:
        return found
    for lb in (n for n in ctx.view.nodes.values() if n.role == "lb"):
        try:
            address = haproxy_admin.address_of(ctx.view.container(lb))
            states = haproxy_admin.server_admin_states(address, API_BACKEND) if address else {}
        except (NotFound, APIError, haproxy_admin.AdminError):   # down or gone: nothing of ours is set there
            continue
        found += [f"{server} still {state} in {lb.service}" for server, state in sorted(states.items())
                  if state != "ready"]
    return found


FAMILY = Family("zone", inject, {"power_on": _power_on, "haproxy_ready": _ready}, leftovers, sidecars=True)
