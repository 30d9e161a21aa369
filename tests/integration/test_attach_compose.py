"""Attaching to a compose project on the real engine: throwaway containers carrying compose's labels (as
docker-compose v1 names them) are discovered and grouped, a role probe finds the leader by `docker exec` and
follows it when it moves, and an isolate on the leader really cuts it off from every peer on its network —
also a container the scenario never names — until the heal.

Everything here is created by the fixture with the prefix drills-attachtest and the label drills.attachtest, and
removed by it (label-scoped), whatever happened. Images: drills/debian-base:bookworm (targets) and drills/tools
(the network-fault sidecar), both local.
"""

from __future__ import annotations

import http.server
import random
import socket
import threading
import uuid

import docker
import pytest
from docker.errors import ImageNotFound

from drills.errors import PreconditionFailed
from drills.faults import nemesis
from drills.faults.context import FaultContext
from drills.faults.heal import heal_entry
from drills.faults.ledger import Ledger
from drills.faults.targets import candidates, resolve
from drills.platform import compose
from drills.platform.images import image_tag
from drills.platform.system import AttachedSystem
from drills.scenario.model import AttachedStack, Fault, Readiness, RoleProbe, Target

PROJECT = "drills-attachtest"
NETWORK = "drills-attachtest-net"
MINE = "drills.attachtest"
IMAGE = "drills/debian-base:bookworm"


def _labels(service: str | None, number: int = 1) -> dict[str, str]:
    found = {MINE: "1"}
    if service:
        found.update({compose.PROJECT: PROJECT, compose.SERVICE: service, compose.NUMBER: str(number)})
    return found


def _remove_mine(client: docker.DockerClient) -> None:
    for c in client.containers.list(all=True, filters={"label": MINE}):
        c.remove(force=True)
    for n in client.networks.list(names=[NETWORK]):
        if n.name == NETWORK and (n.attrs.get("Labels") or {}).get(MINE):
            n.remove()


@pytest.fixture(scope="module")
def project(docker_client):
    for image in (IMAGE, image_tag("tools")):
        try:
            docker_client.images.get(image)
        except ImageNotFound:
            pytest.skip(f"image {image} is not built here")
    _remove_mine(docker_client)
    docker_client.networks.create(NETWORK, driver="bridge", labels={MINE: "1"})
    made = {}
    try:
        for key, service, number, role in (("redis-a", "redis-a", 1, "master"), ("redis-b", "redis-b", 1, "slave"),
                                           ("sentinel-1", "sentinel", 1, "sentinel"),
                                           ("sentinel-2", "sentinel", 2, "sentinel"), ("outsider", None, 0, "none")):
            # docker-compose v1's names; the outsider is on the network but in no project
            name = f"{PROJECT}_{service}_{number}" if service else "drills-attachtest-outsider"
            made[key] = docker_client.containers.run(
                IMAGE, ["sh", "-c", f"echo {role} > /tmp/role; exec sleep infinity"], name=name, detach=True,
                network=NETWORK, labels=_labels(service, number), stop_signal="SIGKILL")
        for c in made.values():
            c.reload()
        yield made
    finally:
        _remove_mine(docker_client)


@pytest.fixture()
def ready_api():
    """The system's API on loopback: /readyz answers 200."""
    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _stack(api: str, **extra) -> AttachedStack:
    probes = {"leader": RoleProbe(services=["redis-a", "redis-b"], command=["cat", "/tmp/role"], match="^master")}
    return AttachedStack(**{"api_url": api, "compose_project": PROJECT, "roles": {"sentinel": "sentinel"},
                            "role_probes": probes, "ready": Readiness(role="leader", hold=0.5), **extra})


def _ip(container) -> str:
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]


def _connect(source, ip: str) -> str:
    """A TCP connect from `source` to a closed port of `ip`: "refused" (reachable: the kernel answers RST),
    "timeout" (the SYN is dropped) or what else happened."""
    code, out = source.exec_run(["bash", "-c", f"timeout 2 bash -c 'echo > /dev/tcp/{ip}/9'"])
    if code == 124:
        return "timeout"
    return "refused" if b"refused" in out else f"exit {code}: {out.decode(errors='replace').strip()}"


def test_a_compose_project_is_discovered_probed_and_checked_before_any_fault(docker_client, project, ready_api):
    system = AttachedSystem(docker_client, _stack(ready_api))
    meta = system.start(log=print)
    assert sorted(meta["nodes"]) == ["redis-a", "redis-b", "sentinel-1", "sentinel-2"]   # not the outsider
    assert meta["nodes"]["sentinel-2"] == {"container": f"{PROJECT}_sentinel_2", "service": "sentinel",
                                           "role": "sentinel"}
    view = system.view
    assert [n.service for n in candidates(Target(role="leader"), view)] == ["redis-a"]
    picked = resolve(Target(service="sentinel"), view, random.Random(3))
    assert len(picked) == 1 and picked[0].group == "sentinel"
    # a failover: the probe follows the role
    project["redis-a"].exec_run(["sh", "-c", "echo slave > /tmp/role"])
    project["redis-b"].exec_run(["sh", "-c", "echo master > /tmp/role"])
    try:
        assert [n.service for n in candidates(Target(role="leader"), view)] == ["redis-b"]
    finally:
        project["redis-a"].exec_run(["sh", "-c", "echo master > /tmp/role"])
        project["redis-b"].exec_run(["sh", "-c", "echo slave > /tmp/role"])
    with pytest.raises(PreconditionFailed, match=f"'{PROJECT}-nope' .*has no containers .*did you mean '{PROJECT}'"):
        AttachedSystem(docker_client, _stack(ready_api, compose_project=f"{PROJECT}-nope")).start(log=print)
    broken = {"leader": RoleProbe(services=["redis-a"], command=["redis-cli", "role"], match="^master")}
    with pytest.raises(PreconditionFailed, match="role_probes.leader on redis-a: `redis-cli role` cannot run"):
        AttachedSystem(docker_client, _stack(ready_api, role_probes=broken, ready=Readiness())).start(log=print)


def test_isolating_the_probed_leader_cuts_every_peer_on_its_network_until_the_heal(docker_client, project, ready_api,
                                                                                  tmp_path, monkeypatch):
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    system = AttachedSystem(docker_client, _stack(ready_api))
    system.start(log=print)
    run_id = f"t-{uuid.uuid4().hex[:6]}"
    ctx = FaultContext(docker_client, system.view, Ledger(tmp_path, run_id), run_id, random.Random(7))
    leader_ip = _ip(project["redis-a"])
    peers = {name: project[name] for name in ("redis-b", "sentinel-2", "outsider")}
    assert {n: _connect(c, leader_ip) for n, c in peers.items()} == dict.fromkeys(peers, "refused")
    try:
        inj = nemesis.inject(ctx, Fault(id="iso", type="isolate", target=Target(role="leader")), "iso-0")
        assert [n.service for n in inj.targets] == ["redis-a"]
        print(inj.detail)
        assert {n: _connect(c, leader_ip) for n, c in peers.items()} == dict.fromkeys(peers, "timeout")
        assert _connect(project["redis-a"], _ip(project["outsider"])) == "timeout"   # nor out
        assert _connect(project["redis-b"], _ip(project["outsider"])) == "refused"   # others untouched
    finally:
        errors = []
        for key, entry in ctx.ledger.pending().items():
            errors += heal_entry(entry, ctx.client)[1]
            ctx.ledger.resolve(key)
        assert errors == []
    assert {n: _connect(c, leader_ip) for n, c in peers.items()} == dict.fromkeys(peers, "refused")
    assert docker_client.containers.list(all=True, filters={"label": f"drills.run={run_id}"}) == []  # no sidecar left



def _client_reaches(port: int) -> str:
    """A client on this machine through the published port: "reached" (docker's proxy or NAT answers at once:
    nothing listens inside, the container resets it) or "timeout" (dropped on the way in)."""
    with socket.socket() as s:
        s.settimeout(3)
        try:
            s.connect(("127.0.0.1", port))
            s.recv(16)
        except TimeoutError:
            return "timeout"
        except OSError:
            pass
    return "reached"


def test_isolating_the_container_that_publishes_the_api_port_cuts_its_clients_too(docker_client, project, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    web = docker_client.containers.run(IMAGE, ["sleep", "infinity"], name=f"{PROJECT}_web_1", detach=True,
                                       network=NETWORK, ports={"9/tcp": ("127.0.0.1", None)},
                                       labels=_labels("web"), stop_signal="SIGKILL")
    try:
        web.reload()
        port = int(web.attrs["NetworkSettings"]["Ports"]["9/tcp"][0]["HostPort"])
        # the API is what this container publishes: it faces the clients (the load generator's requests)
        system = AttachedSystem(docker_client, _stack(f"http://127.0.0.1:{port}"))
        system.view.refresh()
        run_id = f"t-{uuid.uuid4().hex[:6]}"
        ctx = FaultContext(docker_client, system.view, Ledger(tmp_path, run_id), run_id, random.Random(7))
        assert _client_reaches(port) == "reached"
        nemesis.inject(ctx, Fault(id="iso", type="isolate", target=Target(service="web")), "iso-0")
        try:
            assert _client_reaches(port) == "timeout"
            assert _connect(project["outsider"], _ip(web)) == "timeout"
        finally:
            errors = []
            for key, entry in ctx.ledger.pending().items():
                errors += heal_entry(entry, ctx.client)[1]
                ctx.ledger.resolve(key)
            assert errors == []
        assert _client_reaches(port) == "reached"
    finally:
        web.remove(force=True)
