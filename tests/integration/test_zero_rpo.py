"""Zero-RPO backups for real (issue 20): a reference stack whose every acknowledgement waits for the WAL stream
into the backup repository. The whole cluster is lost under writes and restored: every acknowledged purchase and
password change is there. The stream follows a failover. A dead stream blocks acknowledgements (503 within the
wait, nothing acknowledged lost) until it is started again. The library drill
(scenarios/cluster-loss-restore-zero-rpo.yaml: RPO 0) runs in `make gameday`, not here (CI time).

The stack is named zrpo-*: recognisably this test's."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from drills.platform import backups, walstream
from drills.platform.restore import restore_cluster
from drills.platform.stack import Stack, container_name
from drills.platform.stack_spec import WALSTREAM, WALSTREAM_WAIT_S, StackOptions
from drills.platform.ticketing import TicketingClient

STACK_NAME = f"zrpo-it{os.getpid()}"
PASSWORD = "zero rpo password 0"


@pytest.fixture(scope="module")
def zstack(docker_client):
    s = Stack(docker_client, STACK_NAME)
    if s.exists():
        s.down(log=lambda _m: None)
    status = s.up(StackOptions(name=STACK_NAME, zero_rpo_backups=True, monitoring=False, scrypt_n=1024),
                  log=print, timeout=300)
    assert status.healthy, status.problems
    row = next(svc for svc in status.services if svc.service == WALSTREAM)
    assert row.health == "healthy" and "stream=streaming" in row.detail, row
    yield s
    s.down(log=lambda _m: None)


@dataclass
class Writes:
    """What clients were told: acknowledged order ids and, per user, the last acknowledged password."""

    orders: list[int] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    refused: int = 0
    last_ack: float = 0.0      # wall clock when the newest acknowledged purchase was sent (it committed after)
    lock: threading.Lock = field(default_factory=threading.Lock)


def write_load(base: str, writes: Writes, stop: threading.Event, users: int = 4) -> list[threading.Thread]:
    """Each user buys seats and now and then changes its password, recording only what was acknowledged."""

    def run(i: int) -> None:
        api = TicketingClient(base, timeout=10)
        name = f"zrpo-{os.getpid()}-{i}-{time.monotonic_ns()}"
        password = PASSWORD
        api.register(name, password)
        token = api.login(name, password).body["token"]
        event = api.hot_event()["id"]
        with writes.lock:
            writes.passwords[name] = password
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 7 == 0 and name in writes.passwords:
                    new = f"{PASSWORD}-{n}"
                    r = api.rotate_password(token, password, new)
                    with writes.lock:
                        if r.ok:
                            password, token = new, r.body["token"]
                            writes.passwords[name] = password
                        elif r.indeterminate:   # either password may work now: this user proves nothing more
                            writes.passwords.pop(name, None)
                    continue
                sent = time.time()
                r = api.purchase(token, event, quantity=1)
            except requests.RequestException:
                if n % 7 == 0:                  # a rotation whose answer never came: its fate is unknown
                    with writes.lock:
                        writes.passwords.pop(name, None)
                continue
            with writes.lock:
                if r.ok:
                    writes.orders.append(int(r.body["order_id"]))
                    writes.last_ack = max(writes.last_ack, sent)
                else:
                    writes.refused += 1

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(users)]
    for th in threads:
        th.start()
    return threads


def orders_in(stack: Stack) -> set[int]:
    code, out = backups.psql(backups.leader(stack)[1], "SELECT id FROM orders", db="ticketing")
    assert code == 0, out
    return {int(x) for x in out.split()}


def assert_all_acknowledged_present(stack: Stack, writes: Writes) -> None:
    have = orders_in(stack)
    missing = [o for o in writes.orders if o not in have]
    assert not missing, f"{len(missing)} of {len(writes.orders)} acknowledged purchases lost: {missing[:10]}"
    api = TicketingClient(stack.status().endpoints["api"], timeout=15)
    stale = [user for user, pw in writes.passwords.items() if not api.login(user, pw).ok]
    assert not stale, f"acknowledged password changes lost for {stale}"


def test_the_stream_follows_a_failover(zstack, docker_client):
    zstack.wait_healthy(timeout=120, log=lambda _m: None)
    base = zstack.status().endpoints["api"]
    writes, stop = Writes(), threading.Event()
    threads = write_load(base, writes, stop)
    time.sleep(4)
    leader = zstack.status().leader()
    victim = docker_client.containers.get(container_name(STACK_NAME, leader))
    victim.kill(signal="SIGKILL")
    time.sleep(25)                               # a new leader, and writes acknowledged through the stream again
    stop.set()
    for th in threads:
        th.join(timeout=30)
    victim.start()
    zstack.wait_healthy(timeout=180, log=lambda _m: None)
    status = zstack.status()
    assert status.leader() != leader
    assert_all_acknowledged_present(zstack, writes)
    _, node = backups.leader(zstack)
    assert walstream.state(zstack, node).healthy


def test_a_dead_stream_blocks_acknowledgements_and_loses_nothing(zstack, docker_client):
    zstack.wait_healthy(timeout=120, log=lambda _m: None)
    api = TicketingClient(zstack.status().endpoints["api"], timeout=15)
    name = f"zrpo-dead-{os.getpid()}"
    api.register(name, PASSWORD)
    token = api.login(name, PASSWORD).body["token"]
    event = api.hot_event()["id"]
    before = [int(api.purchase(token, event, quantity=1).body["order_id"]) for _ in range(5)]

    stream = docker_client.containers.get(container_name(STACK_NAME, WALSTREAM))
    stream.kill(signal="SIGKILL")
    for _ in range(3):
        t0 = time.monotonic()
        r = api.purchase(token, event, quantity=1)
        took = time.monotonic() - t0
        assert r.status == 503 and r.headers.get("X-Outcome") == "indeterminate", (r.status, r.body)
        assert r.body["reason"] == "backup_stream_timeout" and "not acknowledged" in r.body["detail"]
        assert WALSTREAM_WAIT_S - 0.5 <= took <= WALSTREAM_WAIT_S + 3, took
    status = zstack.status()
    assert not status.healthy and any(WALSTREAM in p for p in status.problems), status.problems

    stream.start()                                 # the heal: acknowledgements resume
    deadline, after = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        r = api.purchase(token, event, quantity=1)
        if r.status == 201:
            after = int(r.body["order_id"])
            break
        time.sleep(0.2)
    assert after is not None, "no purchase acknowledged within 30 s of starting the stream again"
    zstack.wait_healthy(timeout=60, log=lambda _m: None)
    assert {*before, after} <= orders_in(zstack)


def test_a_lost_cluster_is_restored_with_every_acknowledged_write(zstack, docker_client):
    base = zstack.status().endpoints["api"]
    writes, stop = Writes(), threading.Event()
    threads = write_load(base, writes, stop)
    time.sleep(8)
    nodes = backups.pg_containers(zstack, running=False)
    for c in nodes.values():                      # the whole cluster, under the writes
        c.kill(signal="SIGKILL")
    ports = {s: backups.remove_db_node(docker_client, c)[0]["8008/tcp"] for s, c in nodes.items()}
    stop.set()
    for th in threads:
        th.join(timeout=30)
    assert len(writes.orders) > 20, writes

    res = restore_cluster(zstack, log=print, patroni_ports=ports, timeout=600)
    assert res.ok, res.error
    assert res.stream is not None and res.stream["pushed"] >= 1, res.stream  # the streamed WAL was replayed
    # replayed at least up to the newest acknowledged purchase, which committed after it was sent (1 s for the
    # rounding of the database's clock). Not "the moment of the kill": removing the nodes takes seconds on a
    # busy machine (CI saw 5.2 s).
    assert res.recovered_to is not None and res.recovered_to > writes.last_ack - 1, (res.recovered_to, writes.last_ack)
    assert_all_acknowledged_present(zstack, writes)
    # The stream follows the restored cluster. Asked of the stream itself, not of the whole stack's health: a
    # restored replica that does not rejoin in time (seen once in CI: "pg2 is not a member of the Patroni
    # cluster yet") is the restore's problem, not the stream's; this test runs last so it cannot spoil the others.
    deadline, row = time.monotonic() + 120, None
    while time.monotonic() < deadline:
        row = next(s for s in zstack.status().services if s.service == WALSTREAM)
        if "stream=streaming" in row.detail:
            break
        time.sleep(1)
    assert row is not None and "stream=streaming" in row.detail, row
