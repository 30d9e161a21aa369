"""When is the leader protected by a synchronous standby, who leads etcd, and how the report draws it."""

from __future__ import annotations

import json

import pytest

from drills.checks.cluster import node_state
from drills.faults.targets import candidates
from drills.platform.etcd import parse_leader
from drills.platform.inventory import Node, StackView, TargetError
from drills.platform.patroni import Member, protection
from drills.scenario.model import AttachedStack, Target
from drills.scenario.topology import STATIC_ROLES, topology_of


def members(sync: str | None = "pg2", tl: int = 2, sync_tl: int | None = None) -> list[Member]:
    out = [Member("pg1", "leader", "running", tl, None)]
    for name in ("pg2", "pg3"):
        role = "sync_standby" if name == sync else "replica"
        out.append(Member(name, role, "running", sync_tl if sync_tl is not None else tl, 0))
    return out


def leader_status(*rows: tuple[str, str, str], tl: int = 2) -> dict:
    return {"role": "master", "timeline": tl, "replication": [
        {"application_name": n, "state": st, "sync_state": ss} for n, st, ss in rows]}


def test_protected_when_dcs_leader_and_timeline_agree():
    guard = protection(members(), leader_status(("pg2", "streaming", "sync"), ("pg3", "streaming", "async")))
    assert guard.protected and guard.standby == "pg2"


def test_a_stale_dcs_sync_key_is_not_protection():
    # measured after a leader crash + restart: /cluster still named pg2, nothing streamed from the leader yet
    guard = protection(members(), leader_status())
    assert not guard.protected and "pg2 is not connected to leader pg1" in guard.problem


def test_streaming_sync_without_the_dcs_key_is_not_protection():
    # measured: the restarted leader streamed to a `sync` standby for ~6 s before the DCS named it
    guard = protection(members(sync=None), leader_status(("pg2", "streaming", "sync")))
    assert not guard.protected and "names no synchronous standby" in guard.problem


@pytest.mark.parametrize("row", [("pg2", "catchup", "sync"), ("pg2", "streaming", "potential"),
                                 ("pg2", "streaming", "async")])
def test_a_standby_that_is_not_streaming_synchronously_is_not_protection(row):
    assert not protection(members(), leader_status(row)).protected


def test_a_standby_on_the_old_timeline_is_not_protection():
    guard = protection(members(sync_tl=1), leader_status(("pg2", "streaming", "sync")))
    assert not guard.protected and "timeline 1" in guard.problem


def test_no_leader_or_a_silent_leader_is_not_protection():
    assert not protection([Member("pg2", "sync_standby", "running", 1, 0)], None).protected
    assert "does not answer" in protection(members(), None).problem


ETCD_STATUS = [{"Endpoint": "http://127.0.0.1:2379", "Status": {"header": {"member_id": 11}, "leader": 22}}]
ETCD_MEMBERS = {"members": [{"ID": 11, "name": "etcd1"}, {"ID": 22, "name": "etcd2"}, {"ID": 33, "name": "etcd3"}]}


def test_etcd_leader_is_read_from_status_and_member_list():
    assert parse_leader(f"{json.dumps(ETCD_STATUS)}\n---\n{json.dumps(ETCD_MEMBERS)}") == ("etcd2", "")


def test_etcd_during_an_election_has_no_leader():
    status = [{"Status": {"header": {"member_id": 11}, "leader": 0}}]
    name, why = parse_leader(f"{json.dumps(status)}\n---\n{json.dumps(ETCD_MEMBERS)}")
    assert name is None and "election" in why
    assert parse_leader("Error: context deadline exceeded")[0] is None


class FakeContainer:
    def __init__(self, output: str, status: str = "running") -> None:
        self.output, self.status, self.calls = output, status, 0

    def reload(self) -> None:
        pass

    def exec_run(self, cmd):
        self.calls += 1
        return 0, self.output.encode()


def test_target_etcd_leader_resolves_to_the_member_etcd_names():
    answer = f"{json.dumps(ETCD_STATUS)}\n---\n{json.dumps(ETCD_MEMBERS)}"
    fakes = {f"c{i}": FakeContainer(answer, "exited" if i == 1 else "running") for i in (1, 2, 3)}

    class View(StackView):
        def container(self, node):
            return fakes[node.container_id]

    view = View(client=None)  # type: ignore[arg-type]
    view.nodes = {f"etcd{i}": Node(f"etcd{i}", f"c{i}", f"drills-x-etcd{i}", "etcd", ()) for i in (1, 2, 3)}
    view.nodes["pg1"] = Node("pg1", "c9", "drills-x-pg1", "postgres", ())
    assert [n.service for n in candidates(Target(role="etcd_leader"), view)] == ["etcd2"]
    assert fakes["c1"].calls == 0  # a stopped member is not asked
    for fake in fakes.values():
        fake.output = "Error: context deadline exceeded"
    with pytest.raises(TargetError, match="no etcd leader right now"):
        candidates(Target(role="etcd_leader"), view)


def test_etcd_leader_is_dynamic_and_attached_stacks_get_it_with_etcd_members():
    assert "etcd_leader" not in STATIC_ROLES
    topo = topology_of(AttachedStack(api_url="http://127.0.0.1:8080", containers={"e1": "my-etcd"},
                                     roles={"e1": "etcd"}))
    assert topo.roles is not None and "etcd_leader" in topo.roles


def test_an_unprotected_leader_is_drawn_apart():
    assert node_state({"container": "running", "role": "leader", "protected": False}) == "leader_unprotected"
    assert node_state({"container": "running", "role": "leader", "protected": True}) == "leader"
    assert node_state({"container": "running", "role": "leader"}) == "leader"  # async: no such field
    assert node_state({"container": "exited", "role": "leader", "protected": False}) == "down"
