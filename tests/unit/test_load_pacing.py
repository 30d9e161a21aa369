"""An arrival rate paces any user class (locust_side/pacing.py): every task takes a token of the rate gate, a
user's own locustfile offers the profile's rate (not closed-loop at whatever its users manage), and a user class
whose work Locust does not run as tasks is refused before the drill.

Locust monkey-patches the standard library when imported, so the class-level tests run in a child Python, and
the end-to-end ones through the harness (real Locust processes against a local HTTP server)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from drills.errors import ExitCode
from drills.load.locust_side.stats import SecondStats
from drills.load.runner import LoadError, LoadScenarioError, start_load
from drills.rundir.tolerant import read_complete
from drills.scenario.model import LoadProfile, Phases
from tests.unit.test_load_classify import CaseServer
from tests.unit.test_load_runner import write

# -- the wrapping, on Locust's own classes -------------------------------------------------------------------------

CLASSES = """
import json
from locust import MarkovTaskSet, SequentialTaskSet, TaskSet, User, between, task, transition
from locust.env import Environment
from locust.exception import StopUser
from locust.user.task import DefaultTaskSet
from drills.load.locust_side import pacing

CALLS = []


class Plain(User):
    wait_time = between(5, 10)

    @task(3)
    def a(self):
        CALLS.append("a")

    @task
    def b(self):
        CALLS.append("b")


class Inner(TaskSet):
    wait_time = between(5, 10)

    @task
    def leaf(self):
        CALLS.append("leaf")


class Nested(User):
    tasks = [Inner]


class Steps(SequentialTaskSet):
    @task
    def one(self):
        CALLS.append("one")

    @task
    def two(self):
        CALLS.append("two")


class Sequential(User):
    tasks = [Steps]


class Chain(MarkovTaskSet):
    @transition("right")
    def left(self):
        CALLS.append("left")

    @transition("left")
    def right(self):
        CALLS.append("right")


class Markov(User):
    tasks = [Chain]


class OwnToken(User):
    @task
    @pacing.takes_own_token
    def step(self):
        CALLS.append("own")
        if len(CALLS) == 3:
            raise StopUser()


class Looping(User):
    def run(self):
        pass


class Hidden(TaskSet):
    @task
    def leaf(self):
        pass

    def execute_task(self, task):
        task(self)


class Custom(User):
    tasks = [Hidden]


ALL = [Plain, Nested, Sequential, Markov, OwnToken, Looping, Custom]
problems = pacing.prepare(ALL)
tokens = {"left": 0, "taken": 0}


def take():
    if tokens["left"] == 0:
        return False
    tokens["left"] -= 1
    tokens["taken"] += 1
    return True


pacing.install(take)
pacing.install(take)   # idempotent: one token per task, not two
env = Environment(user_classes=ALL)
out = {"problems": problems, "runs": {}}
for cls in (Plain, Nested, Sequential, Markov, OwnToken):
    CALLS.clear()
    tokens.update(left=7, taken=0)
    try:
        DefaultTaskSet(cls(env)).run()
    except StopUser:
        pass
    out["runs"][cls.__name__] = {"calls": list(CALLS), "taken": tokens["taken"], "wait": cls(env).wait_time()}
out["inner_wait"] = Inner(Nested(env)).wait_time()

from drills.load.locust_side.workload import TicketBuyer
think = TicketBuyer.wait_time
out["builtin"] = {"problems": pacing.prepare([TicketBuyer]), "wait_kept": TicketBuyer.wait_time is think,
                  "own": [getattr(t, pacing.OWN_TOKEN, False) for t in TicketBuyer.tasks]}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def paced() -> dict:
    proc = subprocess.run([sys.executable, "-c", CLASSES], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_task_takes_one_token_and_stops_when_the_gate_closes(paced: dict) -> None:
    runs = paced["runs"]
    plain = runs["Plain"]
    assert plain["taken"] == 7 and len(plain["calls"]) == 7 and set(plain["calls"]) <= {"a", "b"}
    assert runs["Sequential"]["calls"] == ["one", "two"] * 3 + ["one"] and runs["Sequential"]["taken"] == 7


def test_a_nested_task_set_is_a_container_its_tasks_take_the_tokens(paced: dict) -> None:
    assert paced["runs"]["Nested"] == {"calls": ["leaf"] * 7, "taken": 7, "wait": 0}
    assert paced["runs"]["Markov"]["calls"] == ["left", "right"] * 3 + ["left"]


def test_paced_users_do_not_think_between_tasks(paced: dict) -> None:
    assert paced["runs"]["Plain"]["wait"] == 0 and paced["inner_wait"] == 0  # was between(5, 10)


def test_a_task_that_takes_its_own_token_is_left_alone(paced: dict) -> None:
    assert paced["runs"]["OwnToken"] == {"calls": ["own"] * 3, "taken": 0, "wait": 0}


def test_the_builtin_workload_takes_its_token_in_its_step_only(paced: dict) -> None:
    assert paced["builtin"] == {"problems": [], "wait_kept": True, "own": [True]}


def test_classes_whose_work_is_not_tasks_are_named(paced: dict) -> None:
    looping, custom = paced["problems"]
    assert looping.startswith("user class Looping replaces User.run()")
    assert custom.startswith("user class Custom runs TaskSet Hidden, which replaces execute_task()")


def test_a_paced_task_is_offered_once_whatever_requests_it_makes() -> None:
    stats = SecondStats("w0", 100.0)
    stats.offer_unannounced = False
    stats.offered(100.2)
    for t in (100.3, 100.4):
        stats.completed(t, "ok", 5.0, counted_start=False)
    closed = SecondStats("w0", 100.0)
    closed.completed(100.3, "ok", 5.0, counted_start=False)
    (line,), (closed_line,) = stats.due_lines(102.0, 1, None), closed.due_lines(102.0, 1, None)
    assert (line["offered_rate"], line["requests"], line["in_flight"]) == (1.0, 2, 0)
    assert closed_line["offered_rate"] == 1.0


# -- end to end: a user's own locustfile under an arrival rate ------------------------------------------------------

FAST = """
from locust import HttpUser, constant, task

class Shopper(HttpUser):
    wait_time = constant(0)   # closed loop, this would be hundreds of operations a second

    @task
    def buy(self):
        self.client.get("/created", context={"op": "look"})
        self.client.post("/created", json={}, context={"op": "buy"})
"""

RATE = 20.0


@pytest.fixture()
def no_leftovers():
    """Every process the harness started is gone when the test ends."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []


def test_an_arrival_rate_paces_a_users_own_locustfile(tmp_path: Path, no_leftovers: None) -> None:
    load = write(tmp_path, FAST)
    load.profile = LoadProfile(type="arrival_rate", rate=RATE, max_users=8, spawn_rate=50)
    run = tmp_path / "run"
    with CaseServer() as server:
        handle = start_load(load, Phases(warmup=0, steady=30, recovery=0), server.url, run, "s", 1, tmp_path)
        try:
            handle.wait_started(30)
            time.sleep(6.5)
        finally:
            assert handle.stop(timeout=15) == 0, handle.error
    buys = [r["invoke"] for r in read_complete(run / "history.jsonl").records if r["op"] == "buy"]
    start = min(buys)
    window = [t for t in buys if start + 1.0 <= t < start + 5.0]
    assert RATE * 4 * 0.8 <= len(window) <= RATE * 4 * 1.2, len(window)
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    full = [s for s in stats if s["target_rate"] and s["requests"] and start + 1.0 <= s["t"] < start + 5.0]
    assert full and all(s["target_rate"] == RATE for s in full)
    offered = sum(s["offered_rate"] for s in full) / len(full)   # tasks, not their two requests each
    assert RATE * 0.8 <= offered <= RATE * 1.2, offered
    assert sum(s["dropped"] for s in full) == 0


LOOPING = """
from locust import HttpUser

class Looper(HttpUser):
    def run(self):
        while True:
            self.client.get("/created")
"""


def test_a_user_class_the_rate_cannot_pace_is_refused_before_the_drill(tmp_path: Path, no_leftovers: None) -> None:
    load = write(tmp_path, LOOPING)
    load.profile = LoadProfile(type="arrival_rate", rate=RATE, max_users=8)
    with CaseServer() as server, pytest.raises(LoadScenarioError, match="Looper replaces User.run") as err:
        start_load(load, Phases(warmup=0, steady=30, recovery=0), server.url, tmp_path / "run", "s", 1, tmp_path)
    assert err.value.exit_code == ExitCode.INVALID_SCENARIO
    assert "arrival rate" in str(err.value) and "constant_users" in (err.value.hint or "")
    assert not (tmp_path / "run" / "load" / "locust-w0.log").exists()  # no Locust was started


def test_a_locust_process_refuses_what_it_cannot_pace_too(tmp_path: Path, no_leftovers: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker started by hand skips the harness's check: the plugin refuses before any user starts."""
    from drills.load import runner
    monkeypatch.setattr(runner, "check_pacing", lambda *args, **kwargs: None)
    load = write(tmp_path, LOOPING)
    load.profile = LoadProfile(type="arrival_rate", rate=RATE, max_users=8)
    with CaseServer() as server:
        handle = start_load(load, Phases(warmup=0, steady=30, recovery=0), server.url, tmp_path / "run", "s", 1,
                            tmp_path)
        with pytest.raises(LoadError, match="exited with code 2: .*Looper replaces User.run"):
            handle.wait_started(30)
    assert handle.returncode == 2
