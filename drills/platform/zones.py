"""Zones of the reference stack: where each node lives, the load balancers' virtual IP, and who holds it now.

One home for placement: etcd i, pg i and api i go to zone letter ((i - 1) % N); with N >= 2 the two load
balancers haproxy1 and haproxy2 go to zones a and b and share a virtual IP (keepalived, VRRP); with N = 1 there
is one load balancer, `haproxy`, and no VIP (today's layout). Every container of a zone carries the label
`drills.zone`; the zoneless instruments (Toxiproxy, monitoring, the WAL stream, sidecars) carry none.

The VIP lives on the stack's own Docker network, outside the range Docker allocates from: the network is made
with an explicit subnet whose lower half is Docker's `ip_range`; the VIP and the load balancers' fixed addresses
are at the top of the upper half (plan_addresses). The host reaches it like any container address on the bridge
(it is the bridge's gateway), which the network rule allows: it is an address of the project's own containers.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from string import Template
from typing import TYPE_CHECKING, Any

import requests
from docker.errors import APIError

from drills.platform import http
from drills.resources import HARNESS, require
from drills.scenario.zone_count import MAX_ZONES, most_zones, zones_problem

__all__ = ["most_zones", "zones_problem"]   # re-exported: the count rule lives with the scenario validator

if TYPE_CHECKING:
    from drills.platform.stack_spec import StackOptions

LETTERS = "abcdefghi"[:MAX_ZONES]
LB_GROUP = "haproxy"          # the service group both load balancers answer to ({service: haproxy})
LB_ROLE = "lb"
VRRP_ADVERT_S = 0.3           # keepalived advertisement interval: a dead master is replaced after ~3 of them (~1 s)
LB_API_PORT = 8080            # HAProxy's API frontend, on the VIP
ADMIN_PORT = 9999             # HAProxy's runtime API (stats socket ipv4@0.0.0.0:9999 level admin)
INTERFACE = "eth0"            # the stack's network inside an LB container (its only network)

# What `--dry-run`, unit tests and the image check render with: a real stack plans from its network's subnet.
EXAMPLE_SUBNET = "172.30.0.0/16"


def zone_names(zones: int) -> list[str]:
    return list(LETTERS[:max(zones, 1)])


def zone_of_index(i: int, zones: int) -> str:
    """The zone of the i-th (1-based) node of a kind."""
    return LETTERS[(i - 1) % max(zones, 1)]


def lb_names(zones: int) -> list[str]:
    """The load balancers: `haproxy` alone with one zone, haproxy1 and haproxy2 (zones a and b) with more."""
    return [LB_GROUP] if zones < 2 else [f"{LB_GROUP}1", f"{LB_GROUP}2"]


def has_vip(zones: int) -> bool:
    return zones >= 2


def zone_of_services(opts: StackOptions) -> dict[str, str]:
    """service -> zone letter for every zoned container of the stack (the one home of placement)."""
    n = opts.zones
    out: dict[str, str] = {}
    for prefix, count in (("etcd", opts.etcd_nodes), ("pg", opts.db_nodes), ("api", opts.api_replicas)):
        for i in range(1, count + 1):
            out[f"{prefix}{i}"] = zone_of_index(i, n)
    for i, lb in enumerate(lb_names(n), start=1):
        out[lb] = zone_of_index(i, n)
    return out


# ---- the virtual IP ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LbAddresses:
    """The stack network's plan: Docker allocates from `ip_range` (the subnet's lower half); the VIP and the
    load balancers' fixed addresses are the last ones of the subnet, which Docker never hands out."""

    subnet: str
    ip_range: str
    vip: str
    prefix: int
    lb_ips: dict[str, str]
    gateway: str   # the bridge's address on the subnet: where the host (the clients) comes from

    def peers_of(self, lb: str) -> list[str]:
        return [ip for name, ip in self.lb_ips.items() if name != lb]


def plan_addresses(subnet: str, lbs: Sequence[str] = ("haproxy1", "haproxy2")) -> LbAddresses:
    """VIP = the subnet's last usable address, the load balancers the ones below it; the gateway is the first
    (Docker's default, given explicitly when the network is made)."""
    net = ipaddress.ip_network(subnet, strict=False)
    if net.version != 4 or net.prefixlen > 28:
        raise ValueError(f"a load-balancer network needs an IPv4 subnet of /28 or larger, not {subnet}")
    lower = next(net.subnets(prefixlen_diff=1))
    last = net.broadcast_address - 1
    ips = {lb: str(last - i) for i, lb in enumerate(lbs, start=1)}
    return LbAddresses(str(net), str(lower), str(last), net.prefixlen, ips, str(net.network_address + 1))


EXAMPLE_ADDRESSES = plan_addresses(EXAMPLE_SUBNET)


def router_id(stack: str) -> int:
    """VRRP's virtual router id (1-255), from the stack's name: each stack has a bridge of its own, so this only
    keeps two stacks' advertisements apart should they ever share a segment."""
    return int(hashlib.sha256(stack.encode()).hexdigest(), 16) % 255 + 1


def render_keepalived(stack: str, lb: str, addrs: LbAddresses) -> str:
    """keepalived.conf of one load balancer (harness/config/keepalived.conf.tmpl says why it is built so)."""
    lbs = list(addrs.lb_ips)
    priority = 110 - 10 * lbs.index(lb)   # haproxy1 wins the first election; nopreempt keeps whoever holds it
    peers = "\n".join(f"        {ip}" for ip in addrs.peers_of(lb))
    text = (require(HARNESS / "config") / "keepalived.conf.tmpl").read_text()
    return Template(text).substitute(
        name=lb, router_id=router_id(stack), priority=priority, advert_int=f"{VRRP_ADVERT_S:g}",
        own_ip=addrs.lb_ips[lb], peers=peers, vip=addrs.vip, prefix=addrs.prefix, gateway=addrs.gateway)


def addresses_of_network(attrs: Mapping[str, Any] | None, lbs: Sequence[str]) -> LbAddresses | None:
    """The plan of an existing stack network (from `docker network inspect`), None when it has no subnet of
    ours (a one-zone stack: Docker chose the subnet and there is no VIP)."""
    ipam = ((attrs or {}).get("IPAM") or {}).get("Config") or []
    for cfg in ipam:
        if cfg.get("Subnet") and cfg.get("IPRange"):
            try:
                return plan_addresses(cfg["Subnet"], lbs)
            except ValueError:
                return None
    return None


# ---- who holds the VIP now -----------------------------------------------------------------------------------
def holds(ip_addr_output: str, vip: str) -> bool:
    """Whether `ip -4 -o addr show` output lists `vip` (as `inet VIP/prefix`)."""
    return any(word.split("/")[0] == vip for line in ip_addr_output.splitlines()
               for i, word in enumerate(line.split()) if i and line.split()[i - 1] == "inet")


def vip_holders(containers: Mapping[str, Any], vip: str) -> list[str]:
    """The load balancers that have the VIP on their interface now, asked inside each running one (in parallel:
    a `docker exec` takes ~0.1 s, over 1 s on a loaded machine). One is healthy; none means no LB serves the
    clients; two is a split brain (VRRP peers that cannot hear each other). Authoritative but slow: the client's
    view (served_by) is what the frequent checks use."""

    def ask(item: tuple[str, Any]) -> str | None:
        service, c = item
        if getattr(c, "status", "running") != "running":
            return None
        try:
            code, output = c.exec_run(["ip", "-4", "-o", "addr", "show", "dev", INTERFACE])
        except APIError:   # a container going away between list and exec holds nothing
            return None
        return service if code == 0 and holds(output.decode(errors="replace"), vip) else None

    items = sorted(containers.items())
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return [s for s in pool.map(ask, items) if s]


def served_by(vip: str, timeout: float = 1.0) -> str | None:
    """The load balancer that answers on the VIP as the clients reach it (its X-LB header on GET /readyz, whatever
    the status: HAProxy's own 503 carries it too); None when nothing answers. In a split brain this is the one the
    host's neighbour entry points at."""
    try:
        resp = http.get(f"http://{vip}:{LB_API_PORT}/readyz", timeout=timeout)
    except requests.RequestException:
        return None
    return resp.headers.get("X-LB") or None
