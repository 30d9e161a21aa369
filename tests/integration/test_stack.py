"""The reference stack, for real: health, purchase semantics, credentials, and a leader SIGKILL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from drills.platform import haproxy, patroni
from drills.platform.ticketing import TicketingClient

from .conftest import SMALL_EVENT_SEATS, STACK_NAME, wait_healthy


def new_user(api: TicketingClient, password: str = "correct horse battery") -> tuple[str, str, str]:
    username = f"u-{uuid.uuid4().hex[:12]}"
    assert api.register(username, password).status == 201
    login = api.login(username, password)
    assert login.status == 201, login.body
    return username, password, login.body["token"]


def test_status_json_shows_leader_sync_standby_apis_and_toxiproxy(stack):
    proc = subprocess.run([sys.executable, "-m", "drills", "stack", "status", "--name", STACK_NAME, "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    roles = Counter(s["role"] for s in status["services"])
    assert roles["leader"] == 1
    assert roles["sync_standby"] >= 1
    lbs = 2 if status["options"]["zones"] >= 2 else 1
    assert roles["etcd"] == 3 and roles["lb"] == lbs and roles["proxy"] == 1
    apis = [s for s in status["services"] if s["role"] == "api"]
    assert len(apis) == 3 and all(s["health"] == "healthy" for s in apis)
    assert status["toxiproxy_version"] == "2.12.0"
    # zones >= 2: clients use the load balancers' virtual IP on the stack's bridge, else a loopback port
    assert status["endpoints"]["api"].startswith(f"http://{status['vip']}:8080" if lbs == 2 else "http://127.0.0.1:")
    assert status["endpoints"]["toxiproxy"].startswith("http://127.0.0.1:")
    assert status["healthy"] is True and status["problems"] == []


def test_contended_event_is_never_oversold(api):
    event = min(api.events(), key=lambda e: e["capacity"])
    assert event["capacity"] == SMALL_EVENT_SEATS
    buyers = [new_user(api)[2] for _ in range(12)]

    def buy_until_sold_out(token: str) -> list[list[int]]:
        client = TicketingClient(api.base_url, timeout=15)
        bought, quantity = [], 4
        for _ in range(60):
            resp = client.purchase(token, event["id"], quantity=quantity)
            if resp.status == 201:
                bought.append(resp.body["seats"])
            elif resp.body.get("error") == "sold_out":
                if quantity == 1:
                    break
                quantity -= 1  # fewer seats left than asked for: ask for fewer
            else:
                assert resp.status in (409, 503), resp.body
        return bought

    with ThreadPoolExecutor(len(buyers)) as pool:
        results = list(pool.map(buy_until_sold_out, buyers))
    acknowledged = [seat for orders in results for seat_list in orders for seat in seat_list]
    assert len(acknowledged) == len(set(acknowledged)), "a seat was acknowledged twice"
    tickets = [t for t in api.audit("tickets") if t["event_id"] == event["id"]]
    seats = Counter(t["seat_no"] for t in tickets)
    assert max(seats.values()) == 1, "a seat has two tickets"
    assert len(tickets) <= event["capacity"]
    assert sorted(acknowledged) == sorted(seats), "tickets differ from acknowledged purchases"
    after = api.event(event["id"]).body
    assert after["sold"] == len(tickets) == event["capacity"]  # demand exceeded supply: sold out exactly


def test_idempotent_retry_never_buys_twice(api):
    _, _, token = new_user(api)
    hot = api.hot_event()
    key = str(uuid.uuid4())
    first = api.purchase(token, hot["id"], quantity=2, key=key)
    assert first.status == 201, first.body
    again = api.purchase(token, hot["id"], quantity=2, key=key)
    assert again.status == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.body["order_id"] == first.body["order_id"] and again.body["seats"] == first.body["seats"]
    other_body = api.purchase(token, hot["id"], quantity=3, key=key)
    assert other_body.status == 422 and other_body.body["error"] == "idempotency_key_reused"

    race_key = str(uuid.uuid4())
    with ThreadPoolExecutor(8) as pool:
        racers = list(pool.map(lambda _: TicketingClient(api.base_url).purchase(token, hot["id"], quantity=1,
                                                                              key=race_key), range(8)))
    assert {r.status for r in racers} <= {200, 201}, [r.body for r in racers]
    assert len({r.body["order_id"] for r in racers}) == 1
    orders = [o for o in api.audit("orders") if o["idempotency_key"] in (key, race_key)]
    assert len(orders) == 2


def test_missing_idempotency_key_and_bad_quantities_are_rejected(api):
    _, _, token = new_user(api)
    hot = api.hot_event()
    resp = api._call("POST", f"/events/{hot['id']}/purchases", token=token, json={"quantity": 1})
    assert resp.status == 400
    assert api.purchase(token, hot["id"], quantity=5).status == 422
    assert api.purchase(token, hot["id"], seats=[hot["capacity"] + 1]).status == 422
    assert api.purchase("not-a-token", hot["id"], quantity=1).status == 401


def test_password_rotation_revokes_old_password_and_sessions(api):
    username, old_password, old_token = new_user(api)
    assert api.me(old_token).status == 200
    rotated = api.rotate_password(old_token, old_password, "a brand new password")
    assert rotated.status == 200, rotated.body
    assert api.login(username, old_password).status == 401
    assert api.me(old_token).status == 401, "a session from before the rotation still works"
    fresh = api.login(username, "a brand new password")
    assert fresh.status == 201
    assert api.me(fresh.body["token"]).status == 200
    assert api.me(rotated.body["token"]).status == 200
    wrong = api.rotate_password(fresh.body["token"], "not the password", "x" * 12)
    assert wrong.status == 401


def test_leader_sigkill_fails_over_and_keeps_acknowledged_purchases(healthy_stack, stack, api, docker_client):
    status = stack.status()
    old_leader = status.leader()
    assert old_leader
    _, _, token = new_user(api)
    hot = api.hot_event()
    acked = []
    for _ in range(20):
        resp = api.purchase(token, hot["id"], quantity=2)
        assert resp.status == 201, resp.body
        acked.append(resp.body["order_id"])

    container = docker_client.containers.get(f"drills-{STACK_NAME}-{old_leader}")
    container.kill(signal="SIGKILL")
    t0 = time.monotonic()
    first_success = None
    while time.monotonic() - t0 < 90:
        try:
            resp = api.purchase(token, hot["id"], quantity=1)
        except requests.RequestException:
            continue  # connection cut during the failover: indeterminate, try again (new key)
        if resp.status == 201:
            first_success = time.monotonic() - t0
            acked.append(resp.body["order_id"])
            break
        assert resp.status in (500, 502, 503, 504), resp.body
        time.sleep(0.2)
    assert first_success is not None, "no purchase succeeded within 90 s of the leader kill"
    print(f"leader {old_leader} SIGKILL -> first successful purchase after {first_success:.1f}s")

    urls = [u for n, u in status.endpoints["patroni"].items() if n != old_leader]
    new_leaders = patroni.leaders(patroni.cluster_from_any(urls) or [])
    assert new_leaders and new_leaders[0] != old_leader
    assert (haproxy.server_states(status.endpoints["haproxy_stats"]) or {}).get(("postgres", new_leaders[0])) == "UP"

    present = {o["id"] for o in api.audit("orders")}
    missing = [o for o in acked if o not in present]
    assert not missing, f"acknowledged orders lost after failover: {missing}"

    container.start()  # the old leader rejoins as a replica (pg_rewind)
    wait_healthy(stack, timeout=120)
    assert stack.status().leader() == new_leaders[0]


@pytest.mark.parametrize("replicas", [3])
def test_api_replicas_all_serve_traffic(api, replicas):
    seen = Counter()
    for _ in range(30):
        resp = api._call("GET", "/healthz")
        seen[resp.headers.get("X-Replica")] += 1
    assert len(seen) == replicas, seen


def test_a_restarted_container_keeps_its_published_ports(healthy_stack, stack, docker_client):
    before = stack.status().endpoints
    lb = min(s.service for s in stack.status().services if s.role == "lb")   # haproxy, or haproxy1 with zones
    docker_client.containers.get(f"drills-{STACK_NAME}-{lb}").restart(timeout=5)
    wait_healthy(stack, timeout=60)
    after = stack.status().endpoints
    assert after["api"] == before["api"] and after["haproxy_stats"] == before["haproxy_stats"]


def test_images_just_built_are_not_stale(stack):
    """`make test` builds the images first: the stale check (drill run's warning) must agree with the build's hash
    on every image, else every drill would warn (or, worse, never)."""
    from drills.platform import engine, images
    assert images.stale_images(engine.connect()) == {}
