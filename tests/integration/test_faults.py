"""Each fault family has its effect on the real stack, and its heal restores it."""

from __future__ import annotations

import random
import statistics
import time
import uuid

import pytest
import requests

from drills.faults import nemesis
from drills.faults.context import FaultContext
from drills.faults.heal import heal_entry
from drills.faults.ledger import Ledger
from drills.platform import haproxy, patroni
from drills.platform.inventory import StackView
from drills.platform.toxiproxy import ToxiproxyClient
from drills.scenario.model import Fault, Target

from .conftest import wait_healthy


@pytest.fixture()
def ctx(healthy_stack, docker_client, tmp_path, monkeypatch):
    """A fault context on the shared stack; every fault is healed after the test, then the stack must be
    healthy again (the `healthy_stack` fixture waits before and after)."""
    stack = healthy_stack
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    endpoints = stack.status().endpoints
    view = StackView.of_reference_stack(docker_client, stack.name, endpoints)
    run_id = f"t-{uuid.uuid4().hex[:6]}"
    context = FaultContext(docker_client, view, Ledger(tmp_path, run_id), run_id, random.Random(7),
                           ToxiproxyClient(endpoints["toxiproxy"]))
    yield context
    assert heal_all(context) == []  # also when the test failed half-way


def ours(ctx: FaultContext) -> dict:
    """The network-fault sidecars of this test's fault context only: a drill running beside the tests has its
    own, which are none of this test's business."""
    return {"label": ["drills.kind=netfault", f"drills.run={ctx.run_id}"]}


def heal_all(ctx: FaultContext) -> list[str]:
    errors = []
    for key, entry in ctx.ledger.pending().items():
        errors += heal_entry(entry, ctx.client)[1]
        ctx.ledger.resolve(key)
    return errors


def test_freeze_stalls_then_heal_resumes(ctx, stack, endpoints):
    inj = nemesis.inject(ctx, Fault(id="f", type="freeze", target=Target(service="api1")), "f-0")
    c = ctx.client.containers.get(inj.targets[0].container_id)
    assert c.status == "paused"
    assert set(ctx.ledger.pending()) == {"f-0"}
    assert heal_all(ctx) == []
    c.reload()
    assert c.status == "running"
    wait_healthy(stack)


def test_latency_toxic_raises_measured_latency_by_about_its_value(ctx, endpoints):
    url = endpoints["api"] + "/events"

    def median_ms(n: int = 15) -> float:
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            assert requests.get(url, timeout=10).status_code == 200
            samples.append((time.perf_counter() - t0) * 1000)
        return statistics.median(samples)

    before = median_ms()
    nemesis.inject(ctx, Fault(id="lat", type="latency", link="lb_api*", params={"latency_ms": 200}), "lat-0")
    during = median_ms()
    assert heal_all(ctx) == []
    after = median_ms()
    assert 150 <= during - before <= 400, (before, during)
    assert after < before + 80
    assert ctx.toxiproxy.leftovers() == []


def test_link_down_takes_a_replica_out_of_haproxy_and_heal_brings_it_back(ctx, stack):
    nemesis.inject(ctx, Fault(id="ld", type="link_down", link="lb_api2"), "ld-0")
    deadline = time.monotonic() + 10
    down = "api2 is DOWN in haproxy (GET /readyz)"
    while time.monotonic() < deadline and down not in stack.status(quick=True).problems:
        time.sleep(0.3)
    assert "api2 is DOWN in haproxy (GET /readyz)" in stack.status(quick=True).problems
    assert heal_all(ctx) == []
    wait_healthy(stack, timeout=30)


def test_kill_leader_exits_it_and_heal_restarts_it(ctx, stack):
    leader = stack.status().leader()
    inj = nemesis.inject(ctx, Fault(id="k", type="kill", target=Target(role="leader")), "k-0")
    assert [n.service for n in inj.targets] == [leader]
    # the kill is in once the engine sent the signal; Docker's teardown may still run (a heal settles it first)
    assert ctx.settle(inj.targets[0].container_id) is None
    c = ctx.client.containers.get(inj.targets[0].container_id)
    assert c.status == "exited"
    assert heal_all(ctx) == []
    c.reload()
    assert c.status == "running"
    wait_healthy(stack, timeout=120)


def test_isolating_the_leader_makes_it_lose_leadership(ctx, stack, endpoints):
    leader = stack.status().leader()
    nemesis.inject(ctx, Fault(id="iso", type="isolate", target=Target(role="leader")), "iso-0")
    deadline = time.monotonic() + 60
    new_leader = None
    while time.monotonic() < deadline:
        others = [u for n, u in endpoints["patroni"].items() if n != leader]
        leaders = patroni.leaders(patroni.cluster_from_any(others) or [])
        if leaders and leaders[0] != leader:
            new_leader = leaders[0]
            break
        time.sleep(0.5)
    # The isolated old leader must also stop accepting writes (it cannot renew its lock). Asked through
    # `docker exec`, not the network: its REST API may not answer while it retries the DCS.
    old = ctx.client.containers.get(f"drills-{stack.name}-{leader}")
    demoted = False
    while time.monotonic() < deadline and not demoted:
        code, out = old.exec_run(["psql", "-h", "/var/run/postgresql", "-U", "postgres", "-tAc",
                                  "select pg_is_in_recovery()"])
        demoted = code != 0 or out.strip() == b"t"
        time.sleep(0.5)
    assert heal_all(ctx) == []
    assert new_leader and new_leader != leader, "nobody took over from the isolated leader"
    assert demoted, "the isolated leader still accepts writes"
    wait_healthy(stack, timeout=120)


def _tcp_retransmissions(container) -> int:
    """RetransSegs of the container's network namespace (/proc/net/snmp is per namespace)."""
    lines = container.exec_run(["cat", "/proc/net/snmp"])[1].decode().splitlines()
    tcp = [line.split() for line in lines if line.startswith("Tcp:")]
    return int(tcp[1][tcp[0].index("RetransSegs")])


def test_packet_loss_drops_packets_and_heal_removes_the_rules(ctx, stack, docker_client, endpoints):
    inj = nemesis.inject(ctx, Fault(id="pl", type="packet_loss", target=Target(role="leader"),
                                     params={"percent": 30}), "pl-0")
    sidecars = docker_client.containers.list(filters=ours(ctx))
    assert len(sidecars) == 1
    rules = sidecars[0].exec_run(["iptables", "-S"])[1].decode()
    assert "statistic" in rules and "--probability 0.29" in rules
    before = _tcp_retransmissions(sidecars[0])
    api = requests.Session()
    for _ in range(60):  # every /events reads the leader through the pooled API connections
        try:
            api.get(endpoints["api"] + "/events", timeout=10)
        except requests.RequestException:
            pass
    grew = _tcp_retransmissions(sidecars[0]) - before
    assert grew >= 5, f"30% packet loss caused only {grew} TCP retransmission(s)"
    print(f"TCP retransmissions in the leader's namespace during 30% loss: +{grew}")
    assert heal_all(ctx) == []
    assert docker_client.containers.list(all=True, filters=ours(ctx)) == []
    probe = docker_client.containers.run("drills/tools:latest", ["iptables", "-S"], remove=True, cap_add=["NET_ADMIN"],
                                         network_mode=f"container:{inj.targets[0].container_id}")
    assert b" DR" not in probe
    wait_healthy(stack, timeout=60)


def test_partition_leader_versus_the_rest_cuts_both_sides(ctx, stack, docker_client):
    leader = stack.status().leader()
    inj = nemesis.inject(ctx, Fault(id="pt", type="partition", target=Target(role="leader"),
                                     params={"groups": [["leader"], ["rest"]]}), "pt-0")
    assert leader in [n.service for n in inj.targets]
    sidecars = docker_client.containers.list(filters=ours(ctx))
    assert len(sidecars) == len(ctx.view.nodes)  # every node, on both sides, got its rules
    leader_ips = next(n.ips for n in ctx.view.nodes.values() if n.service == leader)
    other = next(sc for sc in sidecars if sc.labels["drills.target"] != f"drills-{stack.name}-{leader}")
    assert f"-s {leader_ips[0]}/32" in other.exec_run(["iptables", "-S"])[1].decode()
    assert heal_all(ctx) == []
    assert docker_client.containers.list(all=True, filters=ours(ctx)) == []
    wait_healthy(stack, timeout=120)


def _netns(container) -> str:
    """The network namespace a container's processes live in (same inode = same namespace)."""
    return container.exec_run(["readlink", "/proc/self/ns/net"])[1].decode().strip()


def test_pre_started_sidecar_follows_a_restarted_target_and_heals_through_it(ctx, stack, docker_client):
    from drills.faults.sidecars import SidecarPool

    pool = SidecarPool(docker_client, ctx.run_id, ctx.ledger)
    ctx.sidecars = pool
    try:
        replica = next(n for n in ctx.view.nodes.values() if n.service == "api3")
        assert pool.warm([replica]) == 1
        warm = docker_client.containers.list(filters=ours(ctx))
        assert len(warm) == 1 and _netns(warm[0]) == _netns(docker_client.containers.get(replica.container_id))
        docker_client.containers.get(replica.container_id).restart(timeout=5)  # a new namespace
        wait_healthy(stack, timeout=60)
        t0 = time.monotonic()
        nemesis.inject(ctx, Fault(id="iso", type="isolate", target=Target(service="api3")), "iso-0")
        print(f"isolate through the pool after a restart (fresh sidecar): {time.monotonic() - t0:.3f}s")
        sidecars = docker_client.containers.list(filters=ours(ctx))
        target = docker_client.containers.get(replica.container_id)
        assert len(sidecars) == 1 and sidecars[0].id != warm[0].id  # the stale one was replaced
        assert _netns(sidecars[0]) == _netns(target)
        assert " DR" in sidecars[0].exec_run(["iptables", "-S"])[1].decode()
        t0 = time.monotonic()
        nemesis.inject(ctx, Fault(id="iso2", type="packet_loss", target=Target(service="api3"),
                                   params={"percent": 10}), "iso2-0")
        print(f"second inject through the warm sidecar: {time.monotonic() - t0:.3f}s")
        assert [s.id for s in docker_client.containers.list(filters=ours(ctx))] == \
            [sidecars[0].id]
        for key in ("iso-0", "iso2-0"):
            assert heal_entry(ctx.ledger.pending()[key], ctx.client)[1] == []
            ctx.ledger.resolve(key)
        assert " DR" not in sidecars[0].exec_run(["iptables", "-S"])[1].decode()
    finally:
        pool.close()
    assert docker_client.containers.list(all=True, filters=ours(ctx)) == []
    assert "sidecars" not in ctx.ledger.pending()
    wait_healthy(stack, timeout=60)


def _leader_sync_rows(container) -> list[str]:
    """The leader's own pg_stat_replication, asked through `docker exec` (not Patroni)."""
    code, out = container.exec_run(["psql", "-h", "/var/run/postgresql", "-U", "postgres", "-tAc",
                                    "select application_name || ':' || state || ':' || sync_state "
                                    "from pg_stat_replication"])
    return out.decode().split() if code == 0 else []


def test_status_is_never_healthy_while_no_sync_standby_streams(ctx, stack):
    """A leader crashed and started again at once keeps its lock and promotes itself on a new timeline; until a
    standby streams synchronously from it again, a second failure of it would stop writes (strict mode)."""
    leader = stack.status().leader()
    container = ctx.client.containers.get(f"drills-{stack.name}-{leader}")
    container.kill()
    container.start()
    t0 = time.monotonic()
    seen_unprotected = False
    while time.monotonic() - t0 < 90:
        status = stack.status(quick=True)
        if status.healthy:
            rows = _leader_sync_rows(ctx.client.containers.get(f"drills-{stack.name}-{status.leader()}"))
            assert any(r.endswith(":streaming:sync") for r in rows), f"healthy, but the leader streams {rows}"
            break
        seen_unprotected |= any(p.startswith("leader not protected") for p in status.problems)
        time.sleep(0.2)
    else:
        pytest.fail(f"not healthy 90 s after the leader restarted: {stack.status(quick=True).problems}")
    print(f"leader restarted: healthy (protected) after {time.monotonic() - t0:.1f}s")
    assert seen_unprotected, "the resync window after a leader restart was never reported"


def test_killing_the_etcd_leader_stops_no_writes(ctx, stack, endpoints):
    """Losing one etcd member of three, even the leader, keeps the DCS quorum: the Patroni leader must keep
    its role, HAProxy must keep routing to it, and purchases must keep succeeding."""
    from drills.platform.ticketing import TicketingClient

    from .test_stack import new_user

    api = TicketingClient(endpoints["api"], timeout=10)
    _, _, token = new_user(api)
    hot = api.hot_event()
    leader = stack.status().leader()
    inj = nemesis.inject(ctx, Fault(id="ke", type="kill", target=Target(role="etcd_leader")), "ke-0")
    killed = inj.targets[0].service
    assert killed.startswith("etcd")
    outcomes: list[int | str] = []
    pg_down: list[str] = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 12:  # etcd elects within ~2 s; Patroni's retry_timeout is 3 s
        try:
            outcomes.append(api.purchase(token, hot["id"], quantity=1).status)
        except requests.RequestException as exc:
            outcomes.append(exc.__class__.__name__)
        state = (haproxy.server_states(endpoints["haproxy_stats"]) or {}).get(("postgres", leader))
        if state != "UP":
            pg_down.append(f"{time.monotonic() - t0:.1f}s {state}")
        time.sleep(0.1)
    assert heal_all(ctx) == []
    failed = [o for o in outcomes if o != 201]
    print(f"etcd leader {killed} killed: {len(outcomes)} purchases, {len(failed)} not acknowledged")
    assert not failed, f"purchases failed while the etcd leader {killed} was down: {failed[:10]}"
    assert not pg_down, f"haproxy took the database leader out: {pg_down[:5]}"
    assert stack.status().leader() == leader
