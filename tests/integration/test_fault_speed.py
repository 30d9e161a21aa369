"""The fast paths of fault injection against a real engine, on a lone drills/tools container (no stack):
iptables scripts through the sidecar's open shell (the same rules as through `docker exec`, far cheaper), the
shell gone with its container, and a SIGKILL that is in once the engine sent it while the heal still waits for
Docker's teardown. Timings are printed, not asserted."""

from __future__ import annotations

import statistics
import time
import uuid

import pytest

from drills.faults.context import HealEnv
from drills.faults.ledger import HealAction
from drills.faults.network import _remove_script, _restore_script
from drills.faults.process import _start
from drills.faults.sidecar_shell import ShellError, open_in_container
from drills.faults.sidecars import exec_script
from drills.faults.signal_sent import send_signal
from drills.platform import labels
from drills.platform.images import image_tag


@pytest.fixture()
def tools(docker_client):
    """A sleeping drills/tools container with NET_ADMIN in a network namespace of its own."""
    c = docker_client.containers.run(image_tag("tools"), detach=True, cap_add=["NET_ADMIN"],
                                     name=f"faultspeed-it-{uuid.uuid4().hex[:6]}", labels=labels.owner_label())
    yield c
    c.remove(force=True)


def _rules(c) -> str:
    return exec_script(c, "iptables -w -S")[1]


def test_iptables_through_the_open_shell_equals_docker_exec_and_costs_less(docker_client, tools):
    shell = open_in_container(docker_client.api, tools.id)
    inject = _restore_script("DRitI", "DRitO", ["10.1.1.1", "10.1.1.2"], ["10.1.1.1"], 0.25)
    heal = _remove_script(["DRitI", "DRitO"])
    assert shell.run(inject) == (0, "")
    by_shell = _rules(tools)
    assert "-A DRitI -s 10.1.1.1/32 -m statistic --mode random --probability 0.25000000000 -j DROP" in by_shell
    assert shell.run(heal) == (0, "")
    assert exec_script(tools, inject)[0] == 0
    assert _rules(tools) == by_shell            # the same rules either way
    assert exec_script(tools, heal) == (0, "")
    assert "DRit" not in _rules(tools)
    timings: dict[str, list[float]] = {"shell": [], "exec": []}
    for _ in range(5):
        for way, run in (("shell", shell.run), ("exec", lambda s: exec_script(tools, s))):
            t0 = time.perf_counter()
            assert run(inject)[0] == 0 and run(heal) == (0, "")
            timings[way].append((time.perf_counter() - t0) * 1000)
    print("inject+heal median ms: " + ", ".join(f"{k} {statistics.median(v):.0f}" for k, v in timings.items()))
    shell.close()


def test_the_shell_ends_with_its_container(docker_client, tools):
    shell = open_in_container(docker_client.api, tools.id)
    assert shell.run("echo up") == (0, "up\n")
    tools.kill()
    deadline = time.monotonic() + 30
    while shell.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not shell.alive()
    with pytest.raises(ShellError):
        shell.run("true")


def test_a_kill_is_in_when_the_signal_is_sent_and_the_heal_waits_for_the_teardown(docker_client, tools):
    t0 = time.monotonic()
    call, sent_at = send_signal(docker_client.api, tools.id, "SIGKILL")
    returned = time.monotonic() - t0
    env = HealEnv(docker_client)
    if not call.done():
        env.unsettled[tools.id] = call
    assert sent_at is not None   # the engine's kill event was seen
    healed = _start(HealAction("start", container=tools.id, name=tools.name), env)
    total = time.monotonic() - t0
    print(f"kill in after {returned * 1000:.0f} ms; teardown and start again after {total * 1000:.0f} ms")
    assert healed == f"started {tools.name}"   # not "already running": it waited for Docker's teardown
    tools.reload()
    assert tools.status == "running"
