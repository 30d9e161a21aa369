"""Attaching to a compose project (issue 15 item 1, item 3 bullets 1-2): discovery and grouping of replicas,
targets among replicas, role probes, readiness, who a network fault cuts off, and the checks before any fault.
Docker is a small in-memory fake here; tests/integration/test_attach_compose.py does it for real."""

from __future__ import annotations

import random
import time

import pytest

from drills.errors import PreconditionFailed
from drills.faults import network
from drills.faults.targets import candidates, resolve
from drills.platform import compose
from drills.platform.attach_preflight import check_attachable
from drills.platform.inventory import Node, StackView, TargetError
from drills.platform.readiness import Check, NotReady, checks_for, hint_for, wait_ready
from drills.platform.role_probes import Answer, Unanswered, ask, holders
from drills.scenario import ScenarioInvalid, scenario_from_dict
from drills.scenario.model import AttachedStack, Fault, Readiness, RoleProbe, Target
from drills.scenario.topology import most_nodes, topology_of

NET = "drills-example_default"
GATEWAY = "172.30.0.1"


# ---- a small Docker ---------------------------------------------------------------------------------------------

class FakeContainer:
    def __init__(self, name: str, ip: str, labels: dict[str, str] | None = None, status: str = "running",
                 published: int | None = None, output: dict | None = None) -> None:
        self.name, self.id, self.labels, self.status = name, f"id-{name}", labels or {}, status
        ports = {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(published)}]} if published else {}
        self.attrs = {"NetworkSettings": {"Networks": {NET: {"IPAddress": ip, "Gateway": GATEWAY}}, "Ports": ports}}
        self.output = output or {}   # command tuple -> (exit code, stdout) or an exception, or a delay

    def exec_run(self, command, **_kw):
        found = self.output.get(tuple(command), (127, b""))
        if isinstance(found, Exception):
            raise found
        code, out = found
        return code, (out, b"exec: not found" if code == 127 else b"")


def compose_labels(project: str, service: str, number: int, **extra: str) -> dict[str, str]:
    return {compose.PROJECT: project, compose.SERVICE: service, compose.NUMBER: str(number), **extra}


class FakeContainers:
    def __init__(self, items: list[FakeContainer]) -> None:
        self.items = items

    def list(self, all: bool = False, filters: dict | None = None, **_kw):  # noqa: A002 - docker's name
        wanted = (filters or {}).get("label")
        if wanted is None:
            return list(self.items)
        key, _, value = wanted.partition("=")
        return [c for c in self.items if key in c.labels and (not value or c.labels[key] == value)]

    def get(self, name_or_id: str) -> FakeContainer:
        from docker.errors import NotFound

        for c in self.items:
            if name_or_id in (c.name, c.id):
                return c
        raise NotFound(f"no such container {name_or_id}")


class FakeNetwork:
    def __init__(self, containers: list[FakeContainer], outsiders: dict[str, str]) -> None:
        found = {c.id: {"Name": c.name, "IPv4Address": f"{c.attrs['NetworkSettings']['Networks'][NET]['IPAddress']}/16"}
                 for c in containers}
        found.update({f"id-{n}": {"Name": n, "IPv4Address": f"{ip}/16"} for n, ip in outsiders.items()})
        self.attrs = {"Containers": found}


class FakeClient:
    def __init__(self, items: list[FakeContainer], outsiders: dict[str, str] | None = None) -> None:
        self.containers = FakeContainers(items)
        self._outsiders = outsiders or {}

    @property
    def networks(self):
        client = self

        class Networks:
            def get(self, name: str) -> FakeNetwork:
                assert name == NET
                return FakeNetwork(client.containers.items, client._outsiders)

        return Networks()


ROLE = ("redis-cli", "role")


def example_project(project: str = "drills-example") -> list[FakeContainer]:
    """Debian's docker-compose v1 names (project_service_N) for redis and sentinel, compose v2's for orders."""
    return [
        FakeContainer(f"{project}_redis-a_1", "172.30.0.2", compose_labels(project, "redis-a", 1),
                      output={ROLE: (0, b"master\n0\n")}),
        FakeContainer(f"{project}_redis-b_1", "172.30.0.3", compose_labels(project, "redis-b", 1),
                      output={ROLE: (0, b"slave\n172.30.0.2\n6379\nconnected\n")}),
        *(FakeContainer(f"{project}_sentinel_{i}", f"172.30.0.{10 + i}", compose_labels(project, "sentinel", i))
          for i in (3, 1, 2)),
        FakeContainer(f"{project}-orders-1", "172.30.0.20",
                      compose_labels(project, "orders", 1, **{"drills.role": "api"}), published=18080),
        FakeContainer(f"{project}_orders_run_1", "172.30.0.21",
                      compose_labels(project, "orders", 1, **{compose.ONEOFF: "True"})),
    ]


def attached(**extra) -> AttachedStack:
    probes = {"leader": RoleProbe(services=["redis-a", "redis-b"], command=list(ROLE), match="^master"),
              "replica": RoleProbe(services=["redis-a", "redis-b"], command=list(ROLE), match="^slave")}
    return AttachedStack(**{"api_url": "http://127.0.0.1:18080", "compose_project": "drills-example",
                            "roles": {"redis-a": "database", "redis-b": "database"}, "role_probes": probes, **extra})


def view_of(client: FakeClient, at: AttachedStack | None = None) -> StackView:
    from drills.platform.system import AttachedSystem

    view = AttachedSystem(client, at or attached()).view  # type: ignore[arg-type]
    view.refresh()
    return view


# ---- discovery ---------------------------------------------------------------------------------------------------

def test_a_compose_project_is_grouped_into_services_and_replicas():
    found = compose.members(example_project())
    assert list(found) == ["orders", "redis-a", "redis-b", "sentinel-1", "sentinel-2", "sentinel-3"]
    assert {m.service for m in found.values()} == {"orders", "redis-a", "redis-b", "sentinel"}
    assert found["sentinel-3"].container.name == "drills-example_sentinel_3"   # by replica number, not list order


def test_replica_numbers_come_from_the_name_when_the_label_is_missing_and_clashes_stay_apart():
    a = FakeContainer("p-web-7", "10.0.0.2", {compose.PROJECT: "p", compose.SERVICE: "web"})
    b = FakeContainer("p_web_2", "10.0.0.3", {compose.PROJECT: "p", compose.SERVICE: "web"})
    c = FakeContainer("3f2a_p_web_2", "10.0.0.4", {compose.PROJECT: "p", compose.SERVICE: "web",
                                                   compose.NUMBER: "2"})   # being recreated
    sidecar = FakeContainer("drills-nf-x", "", {compose.PROJECT: "p", "drills.kind": "netfault"})
    assert sorted(compose.members([a, b, c, sidecar])) == ["web-2", "web-2-id-p_web", "web-7"]


def test_the_view_names_nodes_after_services_with_roles_from_the_scenario_or_the_label():
    view = view_of(FakeClient(example_project()))
    assert sorted(view.nodes) == ["orders", "redis-a", "redis-b", "sentinel-1", "sentinel-2", "sentinel-3"]
    assert view.nodes["redis-a"].role == "database" and view.nodes["orders"].role == "api"
    assert view.nodes["sentinel-2"].group == "sentinel" and view.nodes["sentinel-2"].role == "?"
    assert view.nodes["orders"].published == (18080,) and view.nodes["redis-a"].gateways == (GATEWAY,)


def test_a_missing_container_names_every_one_missing():
    client = FakeClient(example_project())
    view = StackView(client, names={"db": "nope-1", "web": "drills-example-orders-1", "cache": "nope-2"})  # type: ignore[arg-type]
    with pytest.raises(TargetError, match="'nope-1' .*'nope-2'"):
        view.refresh()


# ---- targets among replicas ---------------------------------------------------------------------------------------

def test_a_compose_service_target_selects_among_its_replicas():
    view = view_of(FakeClient(example_project()))
    every = candidates(Target(service="sentinel"), view)
    assert [n.service for n in every] == ["sentinel-1", "sentinel-2", "sentinel-3"]
    one = resolve(Target(service="sentinel"), view, random.Random(1))
    assert len(one) == 1 and one[0].group == "sentinel"
    assert len(resolve(Target(service="sentinel", count=2), view, random.Random(1))) == 2
    assert len(resolve(Target(service="sentinel", select="all"), view, random.Random(1))) == 3
    assert [n.service for n in candidates(Target(service="sentinel-2"), view)] == ["sentinel-2"]
    assert [n.service for n in candidates(Target(service="redis-*"), view)] == ["redis-a", "redis-b"]
    with pytest.raises(TargetError, match=r"have: orders, redis-a, redis-b, sentinel, sentinel-1"):
        candidates(Target(service="sentinal"), view)
    assert [n.service for n in candidates(Target(role="database"), view)] == ["redis-a", "redis-b"]


def test_a_probed_role_is_whoever_holds_it_at_the_injection():
    items = example_project()
    view = view_of(FakeClient(items))
    assert [n.service for n in candidates(Target(role="leader"), view)] == ["redis-a"]
    assert [n.service for n in candidates(Target(role="replica"), view)] == ["redis-b"]
    items[0].output[ROLE], items[1].output[ROLE] = (0, b"slave\n"), (0, b"master\n")   # a failover
    assert [n.service for n in candidates(Target(role="leader"), view)] == ["redis-b"]
    assert view.current_roles() == {"redis-b": "leader", "redis-a": "replica"}
    items[1].status = "exited"
    with pytest.raises(TargetError, match="no container holds the role 'leader' right now .*redis-b: .*exited"):
        candidates(Target(role="leader"), view)


# ---- role probes ---------------------------------------------------------------------------------------------------

def _nodes(*names: str) -> list[Node]:
    return [Node(n, f"id-{n}", f"p_{n}_1", "?", (), group=n) for n in names]


def test_a_command_probe_reads_exit_codes_and_output():
    said = {"a": (0, "master\n"), "b": (0, "slave\n"), "c": (1, "ERR\n"), "d": (127, "exec: redis-cli: not found")}

    def run(node: Node, command: list[str]) -> tuple[int, str]:
        if node.service == "e":
            raise Unanswered("p_e_1 is paused")
        return said[node.service]

    probe = RoleProbe(services=["a", "b", "c", "d", "e", "a"], command=["redis-cli", "role"], match="^master")
    answers = {a.node: a for a in ask(probe, _nodes("a", "b", "c", "d", "e"), run, get=lambda _u: 0)}
    assert len(answers) == 5 and holders(answers.values()) == ["a"]
    assert answers["b"] == Answer("b", False, "slave")
    assert answers["c"].said == "exit 1: ERR" and answers["c"].error is None   # an answer: not the holder
    assert "cannot run in p_d_1 (exit 127)" in (answers["d"].error or "")     # the probe itself is wrong
    assert answers["e"].error == "p_e_1 is paused"


def test_a_hung_probe_is_an_answer_within_the_deadline():
    def run(node: Node, command: list[str]) -> tuple[int, str]:
        time.sleep(2 if node.service == "slow" else 0)
        return 0, "master"

    t0 = time.monotonic()
    answers = ask(RoleProbe(services=["slow", "fast"], command=["x"], match="master"), _nodes("slow", "fast"), run,
                  get=lambda _u: 0, timeout=0.3)
    assert time.monotonic() - t0 < 1.5
    assert {a.node: (a.holds, a.error) for a in answers} == {"slow": (False, "no answer within 0.3s"),
                                                             "fast": (True, None)}


def test_an_http_probe_holds_on_200_only():
    status = {"http://127.0.0.1:8008/primary": 200, "http://127.0.0.1:8009/primary": 503}

    def get(url: str) -> int:
        if url not in status:
            raise Unanswered("ConnectionError")
        return status[url]

    probe = RoleProbe(http={"a": "http://127.0.0.1:8008/primary", "b": "http://127.0.0.1:8009/primary",
                            "c": "http://127.0.0.1:8010/primary"})
    answers = {a.node: a for a in ask(probe, _nodes("a", "b", "c"), run=lambda *_a: (0, ""), get=get)}
    assert holders(answers.values()) == ["a"] and answers["b"].said == "HTTP 503"
    assert answers["c"].error == "http://127.0.0.1:8010/primary: ConnectionError"


# ---- readiness -----------------------------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_readiness_must_hold_continuously_for_its_duration():
    clock = Clock()
    seen = iter([True, True, False, True, True, True, True, True, True, True])
    check = Check("GET x answers 200", lambda: (ok := next(seen), "HTTP 200" if ok else "HTTP 503"))
    waited = wait_ready([check], timeout=60, hold=2.0, clock=clock, sleep=clock.sleep, poll=0.5)
    assert waited == 3.5   # one 503 at 1.0 s restarts the count: 1.5 s .. 3.5 s is the first 2 s in a row


def test_readiness_that_never_holds_long_enough_says_what_it_saw():
    clock = Clock()
    flip = iter([True, False] * 100)
    checks = [Check("GET x answers 200", lambda: (ok := next(flip), "HTTP 200" if ok else "HTTP 503")),
              Check("a container holds the role 'leader'", lambda: (True, "held by redis-a"))]
    with pytest.raises(NotReady) as err:
        wait_ready(checks, timeout=10, hold=2.0, clock=clock, sleep=clock.sleep, poll=1.0, default_hint="h")
    assert "not ready within 10s" in err.value.message and "last saw HTTP" in err.value.message
    assert "held by redis-a" in err.value.message and err.value.hint == "h"


def test_the_readiness_checks_come_from_the_scenario_with_readyz_as_the_default():
    view = StackView(None)  # type: ignore[arg-type]
    assert [c.name for c in checks_for(attached(), view)] == ["GET http://127.0.0.1:18080/readyz answers 200"]
    assert "without stack.attach.ready" in (hint_for(attached()) or "")
    both = attached(ready=Readiness(http="http://127.0.0.1:18080/health", role="leader", hold=3))
    assert [c.name for c in checks_for(both, view)] == ["GET http://127.0.0.1:18080/health answers 200",
                                                        "a container holds the role 'leader'"]
    only_role = attached(ready=Readiness(role="leader"))
    assert [c.name for c in checks_for(only_role, view)] == ["a container holds the role 'leader'"]


# ---- network faults: every peer, and the clients of whoever faces them -----------------------------------------------

class Ctx:
    def __init__(self, view: StackView) -> None:
        self.view = view


def test_isolate_on_an_attached_system_cuts_every_container_on_the_network_and_the_clients_of_the_entry():
    view = view_of(FakeClient(example_project(), outsiders={"someone-elses-sentinel": "172.30.0.99"}))
    redis_a, orders = view.nodes["redis-a"], view.nodes["orders"]
    plan = network._plan(Ctx(view), Fault("i", "isolate"), [redis_a])  # type: ignore[arg-type]
    drop_in, drop_out, p = plan[redis_a]
    assert "172.30.0.99" in drop_in and "172.30.0.3" in drop_in and "172.30.0.2" not in drop_in
    assert GATEWAY not in drop_in and drop_in == drop_out and p == 1.0
    drop_in = network._plan(Ctx(view), Fault("l", "packet_loss", params={"percent": 30}), [orders])[orders][0]  # type: ignore[arg-type]
    assert GATEWAY in drop_in   # it publishes the API's port: the load generator comes through the gateway


def test_partition_shorthand_on_an_attached_system_puts_rules_in_the_targets_only():
    view = view_of(FakeClient(example_project(), outsiders={"x": "172.30.0.99"}))
    targets = [view.nodes["sentinel-1"], view.nodes["sentinel-2"]]
    plan = network._plan(Ctx(view), Fault("p", "partition"), targets)  # type: ignore[arg-type]
    assert set(plan) == set(targets)
    assert "172.30.0.99" in plan[targets[0]][0] and "172.30.0.12" not in plan[targets[0]][0]  # not each other


def test_partition_groups_of_compose_services_and_probed_roles():
    view = view_of(FakeClient(example_project()))
    fault = Fault("p", "partition", params={"groups": [["leader"], ["replica", "sentinel"]]})
    plan = network._plan(Ctx(view), fault, [])  # type: ignore[arg-type]
    assert sorted(n.service for n in plan) == ["redis-a", "redis-b", "sentinel-1", "sentinel-2", "sentinel-3"]
    assert plan[view.nodes["redis-a"]][0] == ["172.30.0.11", "172.30.0.12", "172.30.0.13", "172.30.0.3"]
    assert "orders" not in {n.service for n in plan}   # in no group: keeps talking to everyone


def test_the_reference_stack_keeps_its_peers_and_its_load_balancer_faces_the_clients():
    pg1 = Node("pg1", "c1", "s-pg1", "postgres", ("10.0.0.2",), gateways=("10.0.0.1",), published=(5001,))
    pg2 = Node("pg2", "c2", "s-pg2", "postgres", ("10.0.0.3",), gateways=("10.0.0.1",))
    lb = Node("haproxy", "c3", "s-haproxy", "lb", ("10.0.0.4",), gateways=("10.0.0.1",), published=(8080,))
    view = StackView(None, nodes={"pg1": pg1, "pg2": pg2, "haproxy": lb}, entry_ports=(8080,))  # type: ignore[arg-type]
    assert network._plan(Ctx(view), Fault("i", "isolate"), [pg1])[pg1][0] == ["10.0.0.3", "10.0.0.4"]  # type: ignore[arg-type]
    assert network._plan(Ctx(view), Fault("i", "isolate"), [lb])[lb][0] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]  # type: ignore[arg-type]


# ---- validation ------------------------------------------------------------------------------------------------------

def _issues(attach: dict, faults: list | None = None) -> list[str]:
    try:
        scenario_from_dict({"name": "a", "stack": {"attach": {"api_url": "http://127.0.0.1:18080", **attach}},
                            "faults": faults or []})
    except ScenarioInvalid as exc:
        return [str(i) for i in exc.issues]
    return []


CONTRACT = {"compose_project": "drills-example", "roles": {"redis-a": "database", "redis-b": "database"},
            "role_probes": {"leader": {"services": ["redis-a", "redis-b"], "command": ["redis-cli", "role"],
                                       "match": "^master"},
                            "replica": {"services": ["redis-a", "redis-b"], "command": ["redis-cli", "role"],
                                        "match": "^slave"},
                            "api_up": {"http": {"orders": "http://127.0.0.1:18080/readyz"}}},
            "ready": {"http": "http://127.0.0.1:18080/readyz", "role": "leader", "for": "3s"}}


def test_the_contract_shape_is_a_valid_scenario():
    faults = [{"type": "kill", "target": {"role": "leader"}, "at": 20, "duration": 5},
              {"type": "isolate", "target": {"service": "sentinel", "count": 2}, "at": 30, "duration": 5},
              {"type": "stop", "target": {"role": "database", "select": "all"}, "at": 40, "duration": 5},
              {"type": "partition", "params": {"groups": [["leader"], ["replica", "sentinel"]]}, "at": 50,
               "duration": 5}]
    s = scenario_from_dict({"name": "a", "stack": {"attach": {"api_url": "http://127.0.0.1:18080", **CONTRACT}},
                            "faults": faults})
    at = s.stack
    assert isinstance(at, AttachedStack) and at.compose_project == "drills-example"
    assert at.role_probes["leader"] == RoleProbe(services=["redis-a", "redis-b"], command=["redis-cli", "role"],
                                                 match="^master")
    assert at.role_probes["api_up"].http == {"orders": "http://127.0.0.1:18080/readyz"}
    assert at.ready == Readiness(http="http://127.0.0.1:18080/readyz", role="leader", hold=3.0)
    assert _issues({"compose_project": "p"}) == [] and AttachedStack(api_url="x").ready == Readiness()


@pytest.mark.parametrize("attach, where, words", [
    ({"compose_project": "Drills Example"}, "stack.attach.compose_project", "compose project name"),
    ({**CONTRACT, "role_probes": {"leader": {"services": ["a"], "command": ["x"], "match": "^m",
                                             "http": {"a": "http://127.0.0.1:1"}}}},
     "stack.attach.role_probes.leader", "exactly one of command"),
    ({**CONTRACT, "role_probes": {"leader": {"services": ["a"], "command": ["x"]}}},
     "stack.attach.role_probes.leader.match", "expected 'match' with command"),
    ({**CONTRACT, "role_probes": {"leader": {"services": ["a"], "command": ["x"], "match": "(master"}}},
     "stack.attach.role_probes.leader.match", "regular expression"),
    ({**CONTRACT, "role_probes": {"leader": {"http": {"a": "http://10.0.0.1:8008"}}}},
     "stack.attach.role_probes.leader.http.a", "loopback"),
    ({"compose_project": "p", "role_probes": {"Leader!": {"http": {"a": "http://127.0.0.1:1"}}}},
     "stack.attach.role_probes.Leader!", "role name"),
    ({**CONTRACT, "ready": None, "role_probes": {"database": {"http": {"a": "http://127.0.0.1:1"}}}},
     "stack.attach.role_probes.database", "static role"),
    ({**CONTRACT, "ready": {"role": "leadr"}}, "stack.attach.ready.role", "did you mean 'leader'?"),
    ({**CONTRACT, "ready": {"for": "3s"}}, "stack.attach.ready", "found neither"),
    ({**CONTRACT, "ready": {"http": "https://127.0.0.1:1/readyz"}}, "stack.attach.ready.http", "scheme"),
    ({**CONTRACT, "roles": {"redis-a": "leader"}}, "stack.attach.roles.redis-a", "role_probes"),
    ({"containers": {"db": "db-1"}, "role_probes": {"leader": {"services": ["dbb"], "command": ["x"],
                                                              "match": "m"}}},
     "stack.attach.role_probes.leader.services[0]", "did you mean 'db'?"),
])
def test_bad_attach_sections_are_refused_with_the_place_and_the_reason(attach, where, words):
    found = _issues(attach)
    assert len(found) == 1, found
    assert f": {where}: " in found[0] and words in found[0], found[0]


def test_attached_roles_are_the_users_own_and_checked_when_the_containers_are_declared():
    declared = {"containers": {"db1": "shop-db-1", "db2": "shop-db-2"}, "roles": {"db1": "database"},
                "role_probes": {"primary": {"services": ["db1", "db2"], "command": ["x"], "match": "p"}}}
    assert _issues(declared, [{"type": "kill", "target": {"role": "primary"}, "at": 5}]) == []
    assert _issues(declared, [{"type": "kill", "target": {"role": "database"}, "at": 5}]) == []
    (found,) = _issues(declared, [{"type": "kill", "target": {"role": "replica"}, "at": 5}])
    assert "faults[0].target.role" in found and "role_probes" in found
    (found,) = _issues(declared, [{"type": "kill", "target": {"role": "primary", "count": 3}, "at": 5}])
    assert "at most 2" in found
    (found,) = scenario_issues({"name": "r", "faults": [{"type": "kill", "target": {"role": "database"}, "at": 5}]})
    assert "faults[0].target.role" in found   # the reference stack's roles are a fixed list


def scenario_issues(data: dict) -> list[str]:
    try:
        scenario_from_dict(data)
    except ScenarioInvalid as exc:
        return [str(i) for i in exc.issues]
    return []


def test_a_compose_service_may_have_several_replicas_so_count_is_not_capped_at_one():
    topo = topology_of(attached())
    assert most_nodes(topo, "sentinel", None) is None
    assert _issues(CONTRACT, [{"type": "kill", "target": {"service": "sentinel", "count": 2}, "at": 5}]) == []
    declared = topology_of(AttachedStack(api_url="x", containers={"a": "b"}))
    assert most_nodes(declared, "a", None) == (1, "a service is one container")


# ---- before any fault ------------------------------------------------------------------------------------------------

def test_a_compose_project_that_does_not_exist_is_refused_with_the_projects_there():
    client = FakeClient(example_project("drills-exampel"))
    with pytest.raises(PreconditionFailed) as err:
        check_attachable(view_of_unrefreshed(client), attached(), log=print)
    assert "'drills-example' (stack.attach.compose_project) has no containers" in err.value.message
    assert "did you mean 'drills-exampel'?" in err.value.message
    assert "drills-exampel (7 containers)" in (err.value.hint or "")


def test_a_compose_project_with_nothing_running_is_refused():
    items = example_project()
    for c in items:
        c.status = "exited"
    with pytest.raises(PreconditionFailed, match="has no running containers .*redis-a exited"):
        check_attachable(view_of_unrefreshed(FakeClient(items)), attached(), log=print)


def test_a_misspelt_container_is_refused_before_any_fault_not_an_internal_error():
    at = AttachedStack(api_url="http://127.0.0.1:18080", containers={"web": "drills-example-ordres-1"})
    with pytest.raises(PreconditionFailed) as err:
        check_attachable(view_of_unrefreshed(FakeClient(example_project()), at), at, log=print)
    assert "'drills-example-ordres-1' (service web) does not exist" in err.value.message
    assert "did you mean 'drills-example-orders-1'?" in err.value.message
    assert err.value.exit_code == 7


def test_names_only_known_at_attach_time_are_checked_then():
    at = attached(roles={"redis-aa": "database"},
                  role_probes={"leader": RoleProbe(services=["redis-a", "sentinal"], command=list(ROLE), match="m")})
    with pytest.raises(PreconditionFailed) as err:
        check_attachable(view_of_unrefreshed(FakeClient(example_project()), at), at, log=print)
    assert "stack.attach.roles.redis-aa: no service or container named 'redis-aa' (did you mean 'redis-a'?)" \
        in err.value.message
    assert "stack.attach.role_probes.leader: no service or container named 'sentinal' (did you mean 'sentinel'?)" \
        in err.value.message


def test_a_role_probe_that_cannot_run_is_refused_before_any_fault():
    items = example_project()
    del items[1].output[ROLE]   # redis-b has no redis-cli
    with pytest.raises(PreconditionFailed) as err:
        check_attachable(view_of_unrefreshed(FakeClient(items)), attached(), log=print)
    assert "role_probes.leader on redis-b: `redis-cli role` cannot run in drills-example_redis-b_1 (exit 127)" \
        in err.value.message


def view_of_unrefreshed(client: FakeClient, at: AttachedStack | None = None) -> StackView:
    from drills.platform.system import AttachedSystem

    return AttachedSystem(client, at or attached()).view  # type: ignore[arg-type]


def test_the_role_readiness_check_follows_containers_that_compose_recreated():
    items = example_project()
    client = FakeClient(items)
    view = view_of(client)
    recreated = example_project()
    for c in recreated:
        c.id = c.id + "-new"
    client.containers.items = recreated          # `docker compose up` replaced every container
    for c in items:
        c.status = "removed"
    (check,) = checks_for(attached(ready=Readiness(role="leader")), view)
    assert check.observe() == (True, "held by redis-a")
    assert view.nodes["redis-a"].container_id == "id-drills-example_redis-a_1-new"
