"""Zones on a real reference stack: placement labels, two load balancers sharing a VIP, and the VIP moving when
the load balancer holding it dies (docker kill), measured as a client sees it through the same address."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from drills.faults.targets import candidates
from drills.platform import http, labels, zones
from drills.platform.inventory import StackView
from drills.scenario.model import Target

from .conftest import STACK_NAME, wait_healthy


def _status_json() -> dict:
    proc = subprocess.run([sys.executable, "-m", "drills", "stack", "status", "--name", STACK_NAME, "--json"],
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture()
def zoned(healthy_stack):
    if healthy_stack.options().zones < 2:
        pytest.skip("the shared stack has one zone")
    return healthy_stack


def test_status_shows_zones_two_lbs_and_who_holds_the_vip(zoned):
    status = _status_json()
    by_service = {s["service"]: s for s in status["services"]}
    assert {s: by_service[s]["zone"] for s in ("pg1", "pg2", "pg3", "etcd3", "api2", "haproxy1", "haproxy2")} == \
        {"pg1": "a", "pg2": "b", "pg3": "c", "etcd3": "c", "api2": "b", "haproxy1": "a", "haproxy2": "b"}
    assert by_service["toxiproxy"]["zone"] == ""
    assert status["vip"] and status["endpoints"]["api"] == f"http://{status['vip']}:8080"
    assert len(status["vip_holders"]) == 1 and status["lb_active"] == status["vip_holders"][0]
    assert set(status["endpoints"]["haproxy_admin"]) == {"haproxy1", "haproxy2"}
    text = subprocess.run([sys.executable, "-m", "drills", "stack", "status", "--name", STACK_NAME],
                          capture_output=True, text=True, timeout=90, env={**os.environ, "COLUMNS": "200"}).stdout
    assert f"VIP {status['vip']} held by {status['lb_active']}" in text
    assert "zone" in text and "haproxy2" in text
    # every zoned container carries its label, as the runner's `zones` event and the zone faults read it
    for c in zoned.containers().values():
        assert c.labels.get(labels.ZONE, "") == by_service[c.labels[labels.SERVICE]]["zone"]


def test_every_response_names_its_lb_and_each_runtime_api_answers(zoned):
    status = zoned.status()
    resp = http.get(f"{status.endpoints['api']}/readyz", timeout=5)
    assert resp.status_code == 200 and resp.headers["X-LB"] == status.vip_holders[0]
    for lb, addr in status.endpoints["haproxy_admin"].items():
        host, port = addr.split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"show servers state api\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert b" api1 " in answer and b" api3 " in answer, (lb, answer[:300])


def test_targets_resolve_the_vip_holder_and_the_lb_group(zoned):
    status = zoned.status()
    view = StackView.of_reference_stack(zoned.client, STACK_NAME, status.endpoints)
    assert [n.service for n in candidates(Target(role="lb_active"), view)] == status.vip_holders
    assert [n.service for n in candidates(Target(service="haproxy"), view)] == ["haproxy1", "haproxy2"]
    assert {n.service: n.zone for n in view.nodes.values() if n.role == "lb"} == {"haproxy1": "a", "haproxy2": "b"}


class _Client(threading.Thread):
    """GET /readyz through the client address every 20 ms, on a fresh connection after a failure (what a
    client with a connect/read timeout does), remembering when each success happened and which LB served it."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.ok = url, threading.Event(), []

    def run(self) -> None:
        session = http.session()
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                resp = session.get(f"{self.url}/readyz", timeout=(0.5, 1.0))
                if resp.status_code == 200:
                    self.ok.append((t, resp.headers.get("X-LB")))
            except requests.RequestException:
                session.close()
                session = http.session()
            time.sleep(0.02)

    def gap_after(self, t0: float) -> float:
        """The longest time without a success around `t0`: from the last success before it to the first after."""
        times = [t for t, _ in self.ok]
        before = [t for t in times if t <= t0]
        later = [t for t in times if t > t0]
        start = before[-1] if before else t0
        spans = [b - a for a, b in zip([start, *later], later, strict=False)]
        return max(spans) if spans else float("inf")


def test_killing_the_vip_holder_moves_the_vip_and_clients_get_answers_again(zoned, docker_client):
    status = zoned.status()
    (holder,) = status.vip_holders
    other = next(lb for lb in zones.lb_names(2) if lb != holder)
    client = _Client(status.endpoints["api"])
    client.start()
    time.sleep(2)
    t_kill = time.monotonic()
    docker_client.containers.get(f"drills-{STACK_NAME}-{holder}").kill()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(t > t_kill and lb == other for t, lb in client.ok):
        time.sleep(0.1)
    time.sleep(2)
    client.stop.set()
    client.join(5)
    gap = client.gap_after(t_kill)
    served_after = {lb for t, lb in client.ok if t > t_kill + gap}
    print(f"\nVIP {status.vip}: {holder} killed; {other} answered after a client-observed gap of {gap:.2f} s "
          f"(VRRP advert {zones.VRRP_ADVERT_S} s)")
    assert served_after == {other}, client.ok[-5:]
    assert gap < 10, f"clients saw no answer for {gap:.1f} s"
    after = zoned.status(quick=True)
    assert after.vip_holders == [other]
    assert f"{holder} is exited" in after.problems and not after.healthy

    docker_client.containers.get(f"drills-{STACK_NAME}-{holder}").start()
    wait_healthy(zoned, timeout=90)
    back = zoned.status()
    assert back.healthy, back.problems
    assert back.vip_holders == [other], "nopreempt: the LB coming back does not take the VIP back"


def test_a_restart_hands_the_vip_over_at_once(zoned, docker_client):
    """docker restart (SIGTERM): keepalived gives the VIP up with a priority-0 advertisement, so the peer takes
    it without waiting out the master-down interval."""
    status = zoned.status()
    (holder,) = status.vip_holders
    client = _Client(status.endpoints["api"])
    client.start()
    time.sleep(1 + random.random())
    t0 = time.monotonic()
    docker_client.containers.get(f"drills-{STACK_NAME}-{holder}").restart(timeout=5)
    time.sleep(3)
    client.stop.set()
    client.join(5)
    gap = client.gap_after(t0)
    print(f"\nrestart of {holder}: client-observed gap {gap:.2f} s")
    wait_healthy(zoned, timeout=90)
    assert zoned.status().vip_holders != [holder]
    assert gap < 5


def test_an_lb_cut_off_from_the_clients_gives_the_vip_up(zoned, docker_client):
    """chk_clients: the holder loses its route to the bridge's gateway (a blackhole route, as an iptables cut
    would) and gives the VIP up after three missed pings; the peer serves the clients; removing the route makes
    the stack healthy again with the peer keeping the VIP (nopreempt)."""
    status = zoned.status()
    (holder,) = status.vip_holders
    other = next(lb for lb in zones.lb_names(2) if lb != holder)
    gateway = zoned.addresses().gateway
    container = docker_client.containers.get(f"drills-{STACK_NAME}-{holder}")
    code, out = container.exec_run(["ip", "route", "add", "blackhole", f"{gateway}/32"])
    assert code == 0, out
    try:
        t0 = time.monotonic()
        moved = None
        while time.monotonic() - t0 < 30:
            if zones.served_by(status.vip, timeout=0.5) == other:
                moved = time.monotonic() - t0
                break
            time.sleep(0.2)
        print(f"\n{holder} cut from the gateway: {other} served the VIP after {moved} s")
        assert moved is not None, "the VIP never moved off an LB that cannot reach its clients"
        assert zones.vip_holders({holder: container}, status.vip) == []
    finally:
        container.exec_run(["ip", "route", "del", "blackhole", f"{gateway}/32"])
    wait_healthy(zoned, timeout=90)
    assert zoned.status().vip_holders == [other]
