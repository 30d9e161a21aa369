"""The harness-side runner: everything checkable is checked before the drill, with one clear line and
nothing left running; a Locust process that dies is reported and reaped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from drills.errors import ExitCode
from drills.load.runner import LoadError, LoadScenarioError, start_load
from drills.scenario.model import LoadProfile, LoadSection, Phases
from tests.unit.test_load_classify import CaseServer, closed_port

PHASES = Phases(warmup=1, steady=20, recovery=1)
USERS = LoadProfile(type="constant_users", users=1, spawn_rate=5)

GOOD = """
from locust import HttpUser, constant, task

class Pinger(HttpUser):
    wait_time = constant(0.2)

    @task
    def ping(self):
        self.client.get("/created", context={"op": "ping"})
"""


_BEFORE: set[int] = set()


def children() -> list[psutil.Process]:
    """Child processes started since the test began (other tests' long-lived helpers do not count)."""
    return [p for p in psutil.Process().children(recursive=True)
            if p.pid not in _BEFORE and p.is_running()]


@pytest.fixture(autouse=True)
def _snapshot_children():
    _BEFORE.clear()
    _BEFORE.update(p.pid for p in psutil.Process().children(recursive=True))
    yield


@pytest.fixture()
def server():
    with CaseServer() as s:
        yield s


def write(tmp_path: Path, text: str, name: str = "my_locustfile.py") -> LoadSection:
    (tmp_path / name).write_text(text)
    return LoadSection(locustfile=name, profile=USERS)


def test_unreachable_target(tmp_path: Path) -> None:
    load = write(tmp_path, GOOD)
    with pytest.raises(LoadError, match="unreachable"):
        start_load(load, PHASES, f"http://127.0.0.1:{closed_port()}", tmp_path / "run", "s", 1, tmp_path)
    assert children() == []


def test_locustfile_that_does_not_import(tmp_path: Path, server: CaseServer) -> None:
    load = write(tmp_path, "import no_such_module_for_drills\n")
    with pytest.raises(LoadScenarioError, match="does not import: ModuleNotFoundError.*no_such_module") as err:
        start_load(load, PHASES, server.url, tmp_path / "run", "s", 1, tmp_path)
    assert err.value.exit_code == ExitCode.INVALID_SCENARIO
    assert children() == []


def test_unknown_user_class_and_missing_file(tmp_path: Path, server: CaseServer) -> None:
    load = write(tmp_path, GOOD)
    load.user_classes = ["Pinger", "Nope"]
    with pytest.raises(LoadScenarioError, match="user class Nope not found") as err:
        start_load(load, PHASES, server.url, tmp_path / "run", "s", 1, tmp_path)
    assert "Pinger" in (err.value.hint or "")
    with pytest.raises(LoadScenarioError, match="not found"):
        start_load(LoadSection(locustfile="gone.py"), PHASES, server.url, tmp_path / "run", "s", 1, tmp_path)
    assert children() == []


def test_invalid_load_settings(tmp_path: Path, server: CaseServer) -> None:
    with pytest.raises(LoadScenarioError, match="load.profile: arrival_rate needs a positive rate"):
        start_load(LoadSection(profile=LoadProfile(type="arrival_rate")), PHASES, server.url, tmp_path, "s", 1)
    with pytest.raises(LoadScenarioError, match="unknown operation"):
        start_load(LoadSection(mix={"purchase": 1, "teleport": 1}), PHASES, server.url, tmp_path, "s", 1)
    assert children() == []


def test_crash_during_start_is_reported_and_reaped(tmp_path: Path, server: CaseServer) -> None:
    load = write(tmp_path, GOOD + """
import os, sys
from locust import events

@events.init.add_listener
def crash(environment, **kw):
    print("RuntimeError: crashed on purpose", file=sys.stderr, flush=True)
    os._exit(3)
""")
    handle = start_load(load, PHASES, server.url, tmp_path / "run", "s", 1, tmp_path)
    with pytest.raises(LoadError, match="exited with code 3: RuntimeError: crashed on purpose"):
        handle.wait_started(30)
    assert handle.error and handle.returncode == 3 and not handle.alive()
    assert children() == []


def test_crash_mid_run_then_stop(tmp_path: Path, server: CaseServer) -> None:
    load = write(tmp_path, GOOD + """
import os, time
T0 = time.time()

class Dier(HttpUser):
    wait_time = constant(0.1)

    @task
    def die(self):
        if time.time() - T0 > 3:
            os._exit(5)
""")
    load.profile = LoadProfile(type="constant_users", users=2, spawn_rate=10)
    handle = start_load(load, PHASES, server.url, tmp_path / "run", "s", 1, tmp_path)
    handle.wait_started(30)
    assert handle.alive()
    deadline = time.monotonic() + 20
    while handle.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not handle.alive() and "exited with code 5" in (handle.error or "")
    assert handle.stop() == 5 and handle.stop() == 5
    assert children() == []


def test_graceful_stop_flushes_and_reaps(tmp_path: Path, server: CaseServer) -> None:
    load = write(tmp_path, GOOD)
    run = tmp_path / "run"
    handle = start_load(load, PHASES, server.url, run, "s", 1, tmp_path)
    handle.wait_started(30)
    time.sleep(2.5)
    t0 = time.monotonic()
    assert handle.stop(timeout=20) == 0 and handle.error is None
    assert time.monotonic() - t0 < 10
    assert children() == []
    lines = (run / "history.jsonl").read_text().splitlines()
    assert len(lines) >= 5 and lines[-1].endswith("}")
    assert (run / "stats.jsonl").read_text().count("\n") >= 2
    assert (run / "load" / "config.json").exists() and (run / "load" / "locust-summary.json").exists()


HARNESS = """
import sys, time
from pathlib import Path
from drills.load.runner import start_load
from drills.scenario.model import LoadProfile, LoadSection, Phases

tmp = Path(sys.argv[2])
load = LoadSection(locustfile="my_locustfile.py", profile=LoadProfile(type="constant_users", users=1, spawn_rate=5))
handle = start_load(load, Phases(warmup=0, steady=600, recovery=0), sys.argv[1], tmp / "run", "s", 1, tmp)
handle.wait_started(30)
print("started", flush=True)
time.sleep(600)
"""


def test_locust_stops_itself_when_the_harness_is_killed(tmp_path: Path, server: CaseServer) -> None:
    write(tmp_path, GOOD)
    harness = subprocess.Popen([sys.executable, "-c", HARNESS, server.url, str(tmp_path)], stdout=subprocess.PIPE)
    try:
        assert harness.stdout is not None and harness.stdout.readline().strip() == b"started"
        pid = json.loads((tmp_path / "run" / "load" / "started-w0.json").read_text())["pid"]
        time.sleep(1.5)
        os.kill(harness.pid, signal.SIGKILL)
    finally:
        harness.wait(timeout=10)
    deadline = time.monotonic() + 20
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "Locust kept running after the harness died"
        time.sleep(0.2)
    history = (tmp_path / "run" / "history.jsonl").read_bytes()
    assert history.endswith(b"\n") and history.count(b"\n") >= 3
