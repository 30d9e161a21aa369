"""`drill worker` end to end on this machine (real Locust processes, no Docker): two workers with the token
join a master that waits for them, get their name, config and secret over Locust's connection and send their
history back; a worker with a wrong token is refused, told why, and gets nothing; a SIGKILLed worker becomes
`missing`, then `lost`. The container version (own network, no shared filesystem) is
tests/integration/test_remote_workers.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drills.load.runner import REMOTE_WAIT_S, start_load
from drills.load.worker_auth import ENV_WORKER_TOKEN, ENV_WORKER_TOKEN_FILE
from drills.rundir.tolerant import read_complete
from drills.scenario.model import LoadProfile, LoadSection, Phases
from tests.unit.test_load_classify import CaseServer, closed_port

TOKEN = "a-token-both-sides-know-0123456789"
LOCUSTFILE = """
from locust import HttpUser, constant, task

class Pinger(HttpUser):
    wait_time = constant(0.1)

    @task
    def ping(self):
        self.client.get("/created", context={"op": "ping"})
"""


def worker(port: int, locustfile: Path, token: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRILLS_LOAD_")}
    env[ENV_WORKER_TOKEN] = token
    env.pop(ENV_WORKER_TOKEN_FILE, None)
    return subprocess.Popen([sys.executable, "-m", "drills", "worker", "--master", f"127.0.0.1:{port}",
                             "--locustfile", str(locustfile), "--wait", "30"],
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def worker_events(run: Path) -> list[dict]:
    return [e for e in read_complete(run / "events.jsonl").records if e.get("kind") == "worker"]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture()
def server():
    with CaseServer() as s:
        yield s


def test_remote_workers_join_report_and_are_watched(tmp_path: Path, server: CaseServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("DRILLS_LOAD_REMOTE_WORKERS", "2")
    monkeypatch.setenv("DRILLS_LOAD_MASTER_PORT", str(port))
    monkeypatch.setenv(ENV_WORKER_TOKEN, TOKEN)
    monkeypatch.delenv(ENV_WORKER_TOKEN_FILE, raising=False)
    (tmp_path / "pinger.py").write_text(LOCUSTFILE)
    # a local worker too: it proves the token like the others but keeps its own files
    load = LoadSection(locustfile="pinger.py", workers=1,
                       profile=LoadProfile(type="arrival_rate", rate=30, max_users=6, spawn_rate=30))
    run = tmp_path / "run"
    handle = start_load(load, Phases(warmup=0, steady=60, recovery=0), server.url, run, "the-run-secret", 1,
                        tmp_path)
    procs: list[subprocess.Popen] = []
    try:
        bad = worker(port, tmp_path / "pinger.py", "not-the-token-0123456789", tmp_path / "bad.log")
        procs.append(bad)
        assert bad.wait(timeout=40) == 3
        assert "the master refused this worker: wrong worker token" in (tmp_path / "bad.log").read_text()
        assert not [e for e in worker_events(run) if e["worker"] != "w0"] and not list(run.glob("history-r*"))
        procs += [worker(port, tmp_path / "pinger.py", TOKEN, tmp_path / f"w{i}.log") for i in range(2)]
        handle.wait_started(40)
        assert REMOTE_WAIT_S >= 60
        joined = [e for e in worker_events(run) if e["worker"] != "w0"]
        assert [e["name"] for e in joined] == ["joined", "joined"]
        names = sorted(e["worker"] for e in joined)
        assert all(n.startswith("r-") for n in names) and len(set(names)) == 2
        assert all(abs(e["offset_s"]) < 0.5 and 0 <= e["rtt_s"] < 1 for e in joined)
        time.sleep(4)
        os.killpg(procs[1].pid, signal.SIGKILL)
        wait_for(lambda: any(e["name"] == "missing" for e in worker_events(run)), 15, "no missing event")
        time.sleep(3)
        assert handle.alive(), handle.error
        assert handle.stop(timeout=30) == 0, handle.error
        assert procs[2].wait(timeout=20) == 0 and handle.procs[1].popen.returncode == 0
    finally:
        handle.stop(timeout=5)
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    events = worker_events(run)
    by_name = {}
    for e in events:
        by_name.setdefault(e["worker"], []).append(e["name"])
    assert by_name.pop("w0") == ["joined", "quit"], events
    assert sorted(by_name.values()) == [["joined", "missing", "lost"], ["joined", "quit"]], events
    survivor = next(w for w, seq in by_name.items() if seq == ["joined", "quit"])
    quit_line = next(e for e in events if e["name"] == "quit" and e["worker"] == survivor)
    lines = read_complete(run / f"history-{survivor}.jsonl").records
    assert f"sent {len(lines)} history lines, {len(lines)} received" in quit_line["detail"]
    assert len(lines) > 50 and {r["worker"] for r in lines} == {survivor}
    assert all(r["op"] == "ping" and r["outcome"] == "ok" for r in lines)
    stats = read_complete(run / "stats.jsonl").records
    assert {s["worker"] for s in stats} >= {survivor}
    assert sum(s["requests"] for s in stats if s["worker"] == survivor) == len(lines)
    markers = sorted(p.name for p in (run / "load").glob("started-*.json"))
    assert markers == [f"started-{n}.json" for n in names] + ["started-w0.json"]
    local = read_complete(run / "history-w0.jsonl").records
    assert len(local) > 50 and {r["worker"] for r in local} == {"w0"}
    assert json.loads((run / "load" / "config.json").read_text())["remote_workers"] == 2


def test_losing_the_last_worker_is_said_not_silent(tmp_path: Path, server: CaseServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("DRILLS_LOAD_REMOTE_WORKERS", "1")
    monkeypatch.setenv("DRILLS_LOAD_MASTER_PORT", str(port))
    monkeypatch.setenv(ENV_WORKER_TOKEN, TOKEN)
    monkeypatch.delenv(ENV_WORKER_TOKEN_FILE, raising=False)
    (tmp_path / "pinger.py").write_text(LOCUSTFILE)
    load = LoadSection(locustfile="pinger.py", profile=LoadProfile(type="constant_users", users=2, spawn_rate=10))
    run = tmp_path / "run"
    handle = start_load(load, Phases(warmup=0, steady=60, recovery=0), server.url, run, "s", 1, tmp_path)
    proc = worker(port, tmp_path / "pinger.py", TOKEN, tmp_path / "w.log")
    try:
        handle.wait_started(40)
        time.sleep(2)
        os.killpg(proc.pid, signal.SIGKILL)
        wait_for(lambda: not handle.alive(), 30, "the master did not end")
    finally:
        handle.stop(timeout=10)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert handle.returncode == 4
    assert handle.error is not None and "the last worker went missing" in handle.error, handle.error
    events = worker_events(run)
    assert [e["name"] for e in events] == ["joined", "missing", "lost"], events
    assert events[1]["detail"].startswith("the last worker went missing: Locust stopped the load by itself")
