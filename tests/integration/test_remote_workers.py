"""A drill whose load comes from two `drill worker`s in their own containers (issue 19): no shared filesystem,
they join the master over the network (the bridge gateway of a network of our own, drills-worker-*), prove
the token, get the config and run secret over Locust's connection and send their history back. A third
container with a wrong token is refused and told why. One worker is SIGKILLed mid-drill: the master writes
`missing` then `lost`, and the availability budget over that window is not failed for it (whealth's checks).

The drill and the worker image use the same DRILLS_IMAGE_TAG as the rest of the suite (default `latest`);
the worker image drills/loadworker:<tag> is built on demand from this checkout's wheel."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import docker

from drills.platform import engine, labels, worker_image
from drills.platform.stack import Stack, network_name
from drills.rundir.tolerant import read_complete

SCENARIO = """
name: worker-remote-it
description: Load from two remote workers (drill worker) in their own containers; one is killed mid-drill.
seed: 7
stack:
  reference:
    zones: 1
    monitoring: false
phases:
  warmup: 10s
  steady: 40s
  recovery: 10s
load:
  profile: {type: arrival_rate, rate: 10, max_users: 10, spawn_rate: 5}   # light: the machine is shared
  mix: {purchase: 70, browse: 20, rotate_password: 5, login: 5}
faults: []
budgets:
  - {metric: lost, max: 0}
  - {metric: longest_outage_s, op: purchase, max: 5}
"""
PREFIX = f"drills-worker-{os.getpid()}"
KILL_AFTER_JOIN_S = 25.0


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        assert proc is None or proc.poll() is None, f"the drill ended (code {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def worker_events(run: Path) -> list[dict]:
    if not (run / "events.jsonl").exists():
        return []
    return [e for e in read_complete(run / "events.jsonl").records if e.get("kind") == "worker"]


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_worker(client: docker.DockerClient, image: str, name: str, net: str, stack_net: str, master: str,
                 target: str, token: str) -> docker.models.containers.Container:
    c = client.containers.create(image, ["--master", master, "--target", target, "--wait", "120"], name=name,
                                 environment={"DRILLS_WORKER_TOKEN": token}, network=net,
                                 labels={"drills.test": PREFIX})
    client.networks.get(stack_net).connect(c)
    c.start()
    return c


def test_remote_workers_in_containers(tmp_path: Path) -> None:
    client = engine.connect()
    image = worker_image.build(client, log=print)
    net = client.networks.create(PREFIX, driver="bridge", labels={"drills.test": PREFIX})
    net.reload()
    gateway = net.attrs["IPAM"]["Config"][0]["Gateway"]
    port = free_port(gateway)
    token = secrets.token_hex(16)
    scenario = tmp_path / "worker-remote-it.yaml"
    scenario.write_text(SCENARIO)
    run = tmp_path / "run"
    env = dict(os.environ, DRILLS_LOAD_REMOTE_WORKERS="2", DRILLS_LOAD_MASTER_BIND=gateway,
               DRILLS_LOAD_MASTER_PORT=str(port), DRILLS_WORKER_TOKEN=token)
    log = (tmp_path / "drill.log").open("wb")
    drill = subprocess.Popen([sys.executable, "-m", "drills", "run", str(scenario), "--out", str(run), "--quiet",
                              "--keep-stack"], env=env, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    containers: list = []
    stack_name = None
    try:
        meta = wait_for(lambda: (run / "meta.json").exists() and json.loads((run / "meta.json").read_text()),
                        120, "meta.json", drill)
        stack_name = re.sub(r"[^a-z0-9-]+", "-", meta["run_id"])[:40].strip("-")

        def haproxy():
            found = client.containers.list(filters={"label": [f"{labels.STACK}={stack_name}",
                                                              f"{labels.SERVICE}=haproxy"]})
            return found[0] if found else None

        lb = wait_for(haproxy, 600, "the stack's haproxy", drill)
        stack_net = network_name(stack_name)
        lb.reload()
        target = f"http://{lb.attrs['NetworkSettings']['Networks'][stack_net]['IPAddress']}:8080"
        master = f"{gateway}:{port}"
        bad = start_worker(client, image, f"{PREFIX}-bad", PREFIX, stack_net, master, target, "wrong-token-" * 3)
        containers.append(bad)
        assert bad.wait(timeout=180)["StatusCode"] == 3
        bad_log = bad.logs().decode()
        assert "the master refused this worker: wrong worker token" in bad_log, bad_log
        assert worker_events(run) == []
        workers = [start_worker(client, image, f"{PREFIX}-{i}", PREFIX, stack_net, master, target, token)
                   for i in (1, 2)]
        containers += workers
        joined = wait_for(lambda: [e for e in worker_events(run) if e["name"] == "joined"][1:] and
                          [e for e in worker_events(run) if e["name"] == "joined"], 300, "two joined workers", drill)
        print("joined:", joined)
        time.sleep(KILL_AFTER_JOIN_S)
        workers[0].kill()
        code = drill.wait(timeout=900)
        survivor_exit = workers[1].wait(timeout=60)["StatusCode"]
    finally:
        if drill.poll() is None:
            os.killpg(drill.pid, 15)
            drill.wait(timeout=120)
        log.close()
        print((tmp_path / "drill.log").read_text()[-3000:])
        for c in containers:
            print(c.name, c.logs(tail=15).decode(errors="replace"))
            c.remove(force=True)
        if stack_name:
            Stack(client, stack_name).down(log=lambda _m: None)
        net.remove()
    assert code in (0, 5), f"drill exit code {code}"
    assert survivor_exit == 0
    events = worker_events(run)
    by_worker: dict[str, list[str]] = {}
    for e in events:
        by_worker.setdefault(e["worker"], []).append(e["name"])
    assert sorted(by_worker.values()) == [["joined", "missing", "lost"], ["joined", "quit"]], events
    for e in events:
        assert e["worker"].startswith("r-") and abs(e["offset_s"]) < 1.0 and 0 <= e["rtt_s"] < 1.0, e
    survivor = next(w for w, seq in by_worker.items() if seq == ["joined", "quit"])
    killed = next(w for w in by_worker if w != survivor)
    histories = {p.name: read_complete(p).records for p in run.glob("history*.jsonl")}
    assert set(histories) == {f"history-{survivor}.jsonl", f"history-{killed}.jsonl"}
    ours = histories[f"history-{survivor}.jsonl"]
    quit_line = next(e for e in events if e["name"] == "quit")
    assert f"sent {len(ours)} history lines, {len(ours)} received" in quit_line["detail"], quit_line
    assert {r["worker"] for r in ours} == {survivor} and len(ours) > 100
    # Locust's own count of the same requests: exact for the survivor's part; the killed worker's last
    # second of lines (sent every 1 s) and its last stats report (every 3 s) may differ by a few seconds' worth
    totals = {e["name"]: e["num_requests"] for e in json.loads((run / "load" / "locust-summary.json").read_text())}
    locust_ops = sum(n for name, n in totals.items() if not name.startswith("sub:"))
    lines = sum(len(v) for v in histories.values())
    print(f"history lines {lines} (survivor {len(ours)}), Locust counted {locust_ops}")
    assert abs(lines - locust_ops) <= 5 * 4   # 5/s per worker, 4 s
    result = json.loads((run / "result.json").read_text())
    outage = next(b for b in result["budgets"] if b["metric"] == "longest_outage_s")
    assert outage["passed"] is not False, outage
    workers_seen = (result.get("generator") or {}).get("workers")
    if workers_seen is not None:  # whealth's summary
        assert {w["worker"] for w in workers_seen} == {survivor, killed}
        killed_row = next(w for w in workers_seen if w["worker"] == killed)
        assert killed_row["missing"], killed_row
