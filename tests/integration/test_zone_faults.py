"""Zone faults on a real three-zone stack: a zone's power loss fails over to another zone and heals back to full
strength, a zone's network loss is undone (TCP connects before, during and after), and a zonal shift drains the
zone's API replicas in every load balancer and restores them."""

from __future__ import annotations

import os
import random
import time
import uuid

import pytest

from drills.faults import nemesis
from drills.faults.context import FaultContext
from drills.faults.heal import heal_entry
from drills.faults.ledger import Ledger
from drills.platform import haproxy, haproxy_admin, http, patroni
from drills.platform.inventory import StackView
from drills.platform.stack import Stack
from drills.platform.stack_spec import StackOptions
from drills.platform.ticketing import TicketingClient
from drills.scenario.model import Fault, Target

STACK_NAME = os.environ.get("DRILLS_IT_ZONE_STACK", f"itz{os.getpid()}")


@pytest.fixture(scope="module")
def zoned(docker_client):
    """A three-zone stack without monitoring, removed after the module whatever happened."""
    s = Stack(docker_client, STACK_NAME)
    if s.exists():
        s.down(log=lambda _m: None)
    status = s.up(StackOptions(name=STACK_NAME, zones=3, monitoring=False, scrypt_n=4096, cold_event_seats=40),
                  log=lambda m: print(m), timeout=300)
    assert status.healthy, status.problems
    yield s
    s.down(log=lambda _m: None)


@pytest.fixture()
def ctx(zoned, docker_client, tmp_path, monkeypatch):
    """A fault context on the zoned stack, healthy before; every fault healed after, then healthy again."""
    zoned.wait_healthy(timeout=300, log=lambda _m: None)
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    view = StackView.of_reference_stack(docker_client, zoned.name, zoned.status().endpoints)
    run_id = f"t-{uuid.uuid4().hex[:6]}"
    context = FaultContext(docker_client, view, Ledger(tmp_path, run_id), run_id, random.Random(7))
    yield context
    assert heal_all(context) == []
    zoned.wait_healthy(timeout=300, log=lambda _m: None)


def heal_all(ctx: FaultContext) -> list[str]:
    errors = []
    for key, entry in ctx.ledger.pending().items():
        errors += heal_entry(entry, ctx)[1]
        ctx.ledger.resolve(key)
    return errors


def test_the_leaders_zone_loses_power_fails_over_to_another_zone_and_heals_to_full_strength(ctx, zoned):
    status = zoned.status()
    leader = status.leader()
    zone_of = {s.service: s.zone for s in status.services}
    setup = TicketingClient(status.endpoints["api"], timeout=15)   # scrypt: slow on a busy machine
    name = f"z-{uuid.uuid4().hex[:8]}"
    setup.register(name, "zone password 1")
    token, event = setup.login(name, "zone password 1").body["token"], setup.hot_event()["id"]
    api = TicketingClient(status.endpoints["api"], timeout=3)

    t0 = time.time()
    inj = nemesis.inject(ctx, Fault("zp", "zone_down", Target(zone="leader"), params={"mode": "power"}), "zp-0")
    lost = inj.data["zone"]
    assert lost == zone_of[leader] and leader in inj.data["services"]
    assert sorted(inj.data["services"]) == sorted(s for s, z in zone_of.items() if z == lost)
    for node in inj.targets:
        assert ctx.client.containers.get(node.container_id).status == "exited", node.service

    bought = None
    while time.time() - t0 < 90 and bought is None:
        try:
            if api.purchase(token, event, quantity=1).ok:
                bought = time.time() - t0
        except Exception:  # noqa: BLE001 - connection refused/reset while the zone is down
            time.sleep(0.2)
    assert bought is not None, "no purchase succeeded within 90 s of the zone's power loss"
    urls = [u for s, u in status.endpoints["patroni"].items() if zone_of[s] != lost]
    members = patroni.cluster_from_any(urls, timeout=2) or []
    new_leader = next((m.name for m in members if m.role == "leader"), None)
    assert new_leader and zone_of[new_leader] != lost, members
    print(f"zone {lost} power loss -> first purchase {bought:.1f}s, new leader {new_leader} (zone "
          f"{zone_of[new_leader]})")

    assert heal_all(ctx) == []
    t1 = time.time()
    back = zoned.wait_healthy(timeout=300, log=lambda _m: None)   # the old leader rewinds: slow on a busy machine
    assert back.healthy and len(back.vip_holders) == 1
    assert all(s.state == "running" and s.health == "healthy" for s in back.services if s.zone == lost)
    print(f"power back -> full strength (3 members, sync standby, both LBs, one VIP holder) in {time.time() - t1:.1f}s")


def _connects(container, ip: str, port: int) -> bool:
    """A TCP connect from inside `container` (python3 is in the PostgreSQL and API images)."""
    code, _ = container.exec_run(["python3", "-c", f"import socket; socket.create_connection(('{ip}', {port}), 1.5)"])
    return code == 0


def _leader_out_of(zoned, zone: str) -> None:
    """Move the Patroni leader out of `zone` (a switchover to the synchronous standby, in another zone)."""
    status = zoned.status()
    leader = status.leader()
    zone_of = {s.service: s.zone for s in status.services}
    if leader is None or zone_of[leader] != zone:
        return
    urls = status.endpoints["patroni"]
    sync = next(m.name for m in patroni.cluster_from_any(list(urls.values()), timeout=2) or []
                if m.role == "sync_standby")
    http.post(urls[leader] + "/switchover", json={"leader": leader, "candidate": sync}, timeout=30).raise_for_status()
    zoned.wait_healthy(timeout=120, log=lambda _m: None)
    print(f"switched over from {leader} to {sync}: the leader is out of zone {zone}")


def _serves(url: str, within: float = 10.0) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            if http.get(url, timeout=3).status_code == 200:
                return True
        except Exception:  # noqa: BLE001 - a request to the cut replica before the health checks take it out
            pass
        time.sleep(0.2)
    return False


def test_a_zones_network_loss_cuts_it_from_the_other_zones_and_is_undone(ctx, zoned):
    cut_zone = "c"    # no load balancer there: the clients keep their way in
    _leader_out_of(zoned, cut_zone)   # a network loss of the leader's zone is a failover test of its own
    ctx.view.refresh()
    view = ctx.view
    inside = next(n for n in view.nodes.values() if n.zone == cut_zone and n.role == "postgres")
    neighbour = next(n for n in view.nodes.values() if n.zone == cut_zone and n.role == "api")
    outside = next(n for n in view.nodes.values() if n.zone == "b" and n.role == "postgres")
    probe_out, probe_in = view.container(outside), view.container(neighbour)
    target_ip = inside.ips[0]
    assert _connects(probe_out, target_ip, 5432) and _connects(probe_in, target_ip, 5432)

    inj = nemesis.inject(ctx, Fault("zn", "zone_down", Target(zone=cut_zone), params={"mode": "network"}), "zn-0")
    assert inj.data["zone"] == cut_zone and inside.service in inj.data["services"]
    assert not _connects(probe_out, target_ip, 5432), "another zone still reaches the cut zone"
    assert _connects(probe_in, target_ip, 5432), "the zone's own containers must still reach each other"
    tox = next(n for n in view.nodes.values() if n.role == "proxy")
    assert not _connects(view.container(inside), tox.ips[0], 8474), "the cut zone still reaches Toxiproxy"
    assert _serves(zoned.status().endpoints["api"] + "/readyz"), "the other zones do not serve"

    assert heal_all(ctx) == []
    assert _connects(probe_out, target_ip, 5432), "the heal did not undo the zone's network loss"
    assert nemesis.leftovers(ctx) == []


def test_a_zonal_shift_drains_the_zones_replicas_in_every_lb_and_restores_them(ctx, zoned):
    status = zoned.status()
    admins = status.endpoints["haproxy_admin"]
    assert len(admins) == 2
    inj = nemesis.inject(ctx, Fault("zs", "zonal_shift", Target(zone="a")), "zs-0")
    assert inj.data["drained"] == {lb: ["api1"] for lb in sorted(admins)} and inj.data["failed"] == []
    for lb, address in admins.items():
        assert haproxy_admin.server_admin_states(address, "api")["api1"] == "drain", lb
        states = haproxy.server_states(status.endpoints["haproxy_stats_all"][lb]) or {}
        assert states.get(("api", "api1")) == "DRAIN", (lb, states)
    served = {http.get(status.endpoints["api"] + "/readyz", timeout=3).headers.get("X-Replica") for _ in range(30)}
    assert "api1" not in served and served, served

    assert heal_all(ctx) == []
    for lb, address in admins.items():
        assert set(haproxy_admin.server_admin_states(address, "api").values()) == {"ready"}, lb
    deadline = time.time() + 10
    served = set()
    while "api1" not in served and time.time() < deadline:
        served.add(http.get(status.endpoints["api"] + "/readyz", timeout=3).headers.get("X-Replica"))
    assert "api1" in served, "api1 serves nothing after the shift was undone"
    assert nemesis.leftovers(ctx) == []
