"""Zone faults without Docker: the `zone` target is validated and resolved (a letter, the leader's zone, a
replica's), a zone's network loss cuts exactly what docs/scenario-format.md says, and a zonal shift drains and
restores through the HAProxy runtime API (a small fake speaking its non-interactive protocol)."""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field

import pytest

from drills.faults import heal, nemesis, zone
from drills.faults.context import FaultContext
from drills.faults.ledger import HealAction, Ledger
from drills.faults.targets import zone_members
from drills.platform import haproxy_admin
from drills.platform.inventory import Node, StackView, TargetError
from drills.scenario import scenario_from_dict
from drills.scenario.model import Fault, Target
from tests.unit.test_scenario_validate import issues, one_issue, with_faults

GATEWAY = "172.30.0.1"


# ---- validation -----------------------------------------------------------------------------------------------
def test_zone_faults_validate_with_their_defaults():
    s = scenario_from_dict(with_faults(
        {"id": "p", "type": "zone_down", "target": {"zone": "leader"}, "at": 5, "duration": 10},
        {"id": "n", "type": "zone_down", "target": {"zone": "c"}, "params": {"mode": "network"}, "at": 5,
         "duration": 10},
        {"id": "s", "type": "zonal_shift", "target": {"zone": "a"}, "at": 5, "duration": 10},
        {"id": "k", "type": "kill", "target": {"zone": "replica", "select": "all"}, "at": 30, "duration": 5}))
    assert [f.params for f in s.faults] == [{"mode": "power"}, {"mode": "network"}, {}, {"signal": "SIGKILL"}]
    assert s.faults[0].target == Target(zone="leader")
    assert s.faults[3].target == Target(zone="replica", select="all")


def test_a_zone_fault_needs_a_zone_and_acts_on_all_of_it():
    one_issue(with_faults({"type": "zone_down", "target": {"role": "leader"}, "at": 5}),
              "faults[0].target", "expected target: {zone: a}", "found role")
    one_issue(with_faults({"type": "zonal_shift", "target": {"zone": "a", "select": "all"}, "at": 5}),
              "faults[0].target.select", "expected no select for zonal_shift")
    one_issue(with_faults({"type": "zone_down", "at": 5}), "expected a 'target' for the zone fault zone_down")
    one_issue(with_faults({"type": "zone_down", "target": {"zone": "a"}, "params": {"mode": "flood"}, "at": 5}),
              "params.mode", "power, network")


def test_a_zone_must_be_a_letter_leader_or_replica_and_exist_in_the_stack():
    one_issue(with_faults({"type": "zone_down", "target": {"zone": "A1"}, "at": 5}), "target.zone", "zone letter")
    one_issue(with_faults({"type": "zone_down", "target": {"zone": "a", "role": "leader"}, "at": 5}),
              "exactly one of service, role, label or zone")
    found = one_issue(with_faults({"type": "zone_down", "target": {"zone": "d"}, "at": 5}), "target.zone")
    assert "a, b, c" in found and "found 'd'" in found and ":" in found.split(" ")[0]   # file:line first
    assert issues(with_faults({"type": "zone_down", "target": {"zone": "b"}, "at": 5},
                              stack={"reference": {"zones": 2}})) == []
    one_issue(with_faults({"type": "zone_down", "target": {"zone": "c"}, "at": 5},
                          stack={"reference": {"zones": 2}}), "(a, b: stack.reference.zones is 2)")


def test_an_attached_system_without_a_leader_cannot_name_the_leaders_zone():
    attach = {"attach": {"api_url": "http://127.0.0.1:8000", "containers": {"web": "web-1"}}}
    one_issue(with_faults({"type": "zone_down", "target": {"zone": "leader"}, "at": 5}, stack=attach),
              "zone: leader only where a Patroni leader can be found")
    assert issues(with_faults({"type": "zone_down", "target": {"zone": "b"}, "at": 5}, stack=attach)) == []


# ---- resolution and the network plan, on a constructed view -----------------------------------------------------
@dataclass
class FakeContainer:
    id: str
    name: str
    status: str = "running"
    attrs: dict = field(default_factory=dict)
    killed: list = field(default_factory=list)

    def kill(self, signal: str) -> None:
        self.killed.append(signal)
        self.status = "exited"

    def start(self) -> None:
        self.status = "running"


class FakeDocker:
    def __init__(self, containers: dict[str, FakeContainer]) -> None:
        self.by_id = containers
        self.containers = self

    def get(self, cid: str) -> FakeContainer:
        return self.by_id[cid]

    def list(self, **_filters: object) -> list[FakeContainer]:   # the network family's leftover sidecars: none
        return []


def _node(service: str, role: str, ip: str, zone_letter: str) -> Node:
    return Node(service, f"id-{service}", f"s-{service}", role, (ip,), gateways=(GATEWAY,), zone=zone_letter)


def _view(roles: dict[str, str] | None = None) -> tuple[StackView, FakeDocker]:
    nodes = [_node("etcd1", "etcd", "10.0.0.11", "a"), _node("pg1", "postgres", "10.0.0.21", "a"),
             _node("api1", "api", "10.0.0.31", "a"), _node("haproxy1", "lb", "10.0.0.41", "a"),
             _node("etcd2", "etcd", "10.0.0.12", "b"), _node("pg2", "postgres", "10.0.0.22", "b"),
             _node("api2", "api", "10.0.0.32", "b"), _node("haproxy2", "lb", "10.0.0.42", "b"),
             _node("pg3", "postgres", "10.0.0.23", "c"), _node("api3", "api", "10.0.0.33", "c"),
             _node("toxiproxy", "proxy", "10.0.0.5", ""), _node("prometheus", "monitoring", "10.0.0.6", "")]
    client = FakeDocker({n.container_id: FakeContainer(n.container_id, n.container_name) for n in nodes})
    view = StackView(client, nodes={n.service: n for n in nodes})
    view.current_roles = lambda: dict(roles or {})   # type: ignore[method-assign]
    return view, client


def test_a_zone_target_resolves_to_every_container_of_the_zone_now():
    view, _ = _view({"pg1": "replica", "pg2": "leader", "pg3": "sync_standby"})
    assert [n.service for n in zone_members(view, "c")] == ["api3", "pg3"]
    assert [n.service for n in zone_members(view, "leader")] == ["api2", "etcd2", "haproxy2", "pg2"]
    assert [n.service for n in zone_members(view, "replica")] == ["api1", "etcd1", "haproxy1", "pg1"]
    with pytest.raises(TargetError, match=r"no container is in zone 'd' \(zones: a, b, c\)"):
        zone_members(view, "d")
    nobody, _ = _view({})
    with pytest.raises(TargetError, match="no Patroni leader right now"):
        zone_members(nobody, "leader")


def test_a_zones_network_loss_cuts_it_from_everything_outside_but_monitoring_and_its_lb_from_the_clients(tmp_path):
    view, client = _view()
    ctx = FaultContext(client, view, Ledger(tmp_path, "r1"), "r1")
    plan = zone.network_plan(ctx, "a", zone_members(view, "a"))
    outside = ["10.0.0.12", "10.0.0.22", "10.0.0.23", "10.0.0.32", "10.0.0.33", "10.0.0.42", "10.0.0.5"]
    by_service = {n.service: v for n, v in plan.items()}
    assert set(by_service) == {"etcd1", "pg1", "api1", "haproxy1"}
    assert by_service["pg1"] == (outside, outside, 1.0)                   # monitoring (10.0.0.6) stays reachable
    with_clients = sorted([GATEWAY, *outside])
    assert by_service["haproxy1"] == (with_clients, with_clients, 1.0)   # and its clients are cut


def test_a_zones_power_loss_kills_every_container_at_once_and_the_heal_starts_them(tmp_path, monkeypatch):
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    view, client = _view({"pg1": "leader", "pg2": "sync_standby", "pg3": "replica"})
    view.refresh = lambda: None
    ledger = Ledger(tmp_path, "r1")
    ctx = FaultContext(client, view, ledger, "r1")
    fault = Fault("down", "zone_down", Target(zone="leader"), params={"mode": "power"})
    inj = nemesis.inject(ctx, fault, "down-0")
    assert inj.data == {"zone": "a", "mode": "power", "services": ["api1", "etcd1", "haproxy1", "pg1"]}
    zone_a = [client.by_id[f"id-{s}"] for s in ("etcd1", "pg1", "api1", "haproxy1")]
    assert all(c.killed == ["SIGKILL"] and c.status == "exited" for c in zone_a)
    assert client.by_id["id-pg2"].status == "running"
    entry = ledger.pending()["down-0"]
    assert sorted(h["container"] for h in entry["heal"]) == sorted(c.id for c in zone_a)
    done, errors = heal.heal_entry(entry, ctx)
    assert errors == [] and all(c.status == "running" for c in zone_a) and len(done) == 4


# ---- the runtime API and the zonal shift ------------------------------------------------------------------------
class FakeHAProxy(socketserver.ThreadingTCPServer):
    """HAProxy's runtime API in non-interactive mode: one command line, the answer, then close."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, servers: list[str]) -> None:
        self.admin = {s: 0 for s in servers}
        self.lines: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def answer(self, line: str) -> str:
        self.lines.append(line)
        out = []
        for cmd in (c.strip() for c in line.split(";")):
            words = cmd.split()
            if words[:2] == ["set", "server"] and len(words) == 5:
                server = words[2].split("/", 1)[1]
                if server not in self.admin:
                    out.append("No such server.")
                    continue
                self.admin[server] = {"ready": 0, "drain": 0x08, "maint": 0x01}[words[4]]
            elif words[:3] == ["show", "servers", "state"]:
                out.append("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...")
                out += [f"4 api {i} {s} 10.0.0.5 2 {a} 1 1 7 6 3 4 6 0 0 0 - 16001 -"
                        for i, (s, a) in enumerate(sorted(self.admin.items()), start=1)]
        return "\n".join(out) + "\n"


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline().decode().strip()
        self.wfile.write(self.server.answer(line).encode())   # type: ignore[attr-defined]


def test_the_runtime_api_sets_and_reads_server_states():
    lb = FakeHAProxy(["api1", "api2", "api3"])
    try:
        haproxy_admin.set_state(lb.address, "api", ["api1", "api3"], "drain")
        assert lb.lines == ["set server api/api1 state drain; set server api/api3 state drain"]
        assert haproxy_admin.server_admin_states(lb.address, "api") == {"api1": "drain", "api2": "ready",
                                                                        "api3": "drain"}
        with pytest.raises(haproxy_admin.AdminError, match="refused .*No such server"):
            haproxy_admin.set_state(lb.address, "api", ["api9"], "maint")
    finally:
        lb.shutdown()
        lb.server_close()
    with pytest.raises(haproxy_admin.AdminError, match="unreachable"):
        haproxy_admin.command(lb.address, "show info", timeout=0.5)


def test_a_zonal_shift_drains_the_zones_replicas_in_every_lb_and_the_heal_brings_them_back(tmp_path, monkeypatch):
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    view, client = _view()
    view.refresh = lambda: None
    lbs = {name: FakeHAProxy(["api1", "api2", "api3"]) for name in ("haproxy1", "haproxy2")}
    for name, lb in lbs.items():
        port = lb.address.rsplit(":", 1)[1]
        client.by_id[f"id-{name}"].attrs = {"NetworkSettings": {"Ports": {
            haproxy_admin.ADMIN_CONTAINER_PORT: [{"HostIp": "127.0.0.1", "HostPort": port}]}}}
    ledger = Ledger(tmp_path, "r1")
    ctx = FaultContext(client, view, ledger, "r1")
    try:
        inj = nemesis.inject(ctx, Fault("shift", "zonal_shift", Target(zone="b")), "shift-0")
        assert inj.data == {"zone": "b", "drained": {"haproxy1": ["api2"], "haproxy2": ["api2"]}, "failed": []}
        assert [n.service for n in inj.targets] == ["api2"]
        assert all(lb.admin == {"api1": 0, "api2": 0x08, "api3": 0} for lb in lbs.values())
        assert nemesis.leftovers(ctx) == ["ledger entry shift-0 still pending", "api2 still drain in haproxy1",
                                          "api2 still drain in haproxy2"]
        done, errors = heal.heal_entry(ledger.pending()["shift-0"], ctx)
        ledger.resolve("shift-0")
        assert errors == [] and sorted(done) == ["set api2 ready in haproxy1", "set api2 ready in haproxy2"]
        assert all(set(lb.admin.values()) == {0} for lb in lbs.values()) and nemesis.leftovers(ctx) == []
        # a heal finding its LB restarted (another port, so fresh states) has nothing to undo
        lbs["haproxy1"].shutdown()
        lbs["haproxy1"].server_close()
        gone = HealAction("haproxy_ready", container="id-haproxy1", name="haproxy1", admin="127.0.0.1:1",
                          servers=["api2"])
        assert "was restarted" in heal.execute(gone, ctx)
    finally:
        for lb in lbs.values():
            lb.shutdown()
            lb.server_close()


def test_an_attached_system_without_zone_labels_refuses_zone_faults_before_any_fault():
    from drills.errors import PreconditionFailed
    from drills.scenario.model import Source

    view, _ = _view()
    kill = Fault("k", "kill", Target(service="pg1"))
    down = Fault("d", "zone_down", Target(zone="d"), source=Source("drill.yaml", 12, 5))
    zone.check_zone_targets(view, [kill, Fault("a", "zone_down", Target(zone="a")),
                                   Fault("l", "zonal_shift", Target(zone="leader"))])
    with pytest.raises(PreconditionFailed, match=r"drill.yaml:12: faults\[1\].target.zone: expected one of the "
                                                 r"system's zones \(a, b, c\), found 'd'"):
        zone.check_zone_targets(view, [kill, down])
    bare = StackView(None, nodes={"web": Node("web", "id-web", "web-1", "api", ("10.0.0.9",))})
    with pytest.raises(PreconditionFailed, match="expected containers carrying the label drills.zone"):
        zone.check_zone_targets(bare, [down])
