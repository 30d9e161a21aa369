"""No interruption path leaves a fault behind: SIGINT, SIGTERM, and SIGKILL followed by `drill clean`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from drills.platform import engine, labels
from drills.platform.stack import Stack
from drills.platform.toxiproxy import ToxiproxyClient

SCENARIO = Path(__file__).parent / "scenarios" / "faults-mix.yaml"
FAULTS = {"freeze-api1", "slow-db", "cut-replica"}


def start_drill(out: Path, state_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, DRILLS_STATE_DIR=str(state_dir))
    return subprocess.Popen([sys.executable, "-m", "drills", "run", str(SCENARIO), "--out", str(out),
                             "--keep-stack", "--quiet"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def wait_for_injects(out: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        injected = set()
        events = out / "events.jsonl"
        if events.exists():
            for line in events.read_text().splitlines():
                ev = json.loads(line)
                if ev.get("kind") == "fault" and ev.get("phase") == "inject":
                    assert ev["ok"], ev
                    injected.add(ev["fault_id"])
        if injected >= FAULTS:
            return
        time.sleep(0.5)
    raise AssertionError("faults were not injected in time")


@contextmanager
def drill_with_faults_on(out: Path, state_dir: Path) -> Iterator[tuple[subprocess.Popen, Stack]]:
    """A drill whose faults are all injected; killed and its stack removed afterwards, whatever happened."""
    proc = start_drill(out, state_dir)
    try:
        wait_for_injects(out, proc)
        yield proc, stack_of(out)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        if (out / "meta.json").exists():  # also when the drill failed before its faults (--keep-stack kept it)
            stack_of(out).down(log=lambda _m: None)


def stack_of(out: Path) -> Stack:
    meta = json.loads((out / "meta.json").read_text())
    return Stack(engine.connect(), meta["stack"]["name"])


def assert_nothing_left(stack: Stack, run_id_prefix: str = "") -> None:
    client = stack.client
    paused = [c.name for c in stack.containers().values() if c.status == "paused"]
    assert paused == [], f"still paused: {paused}"
    sidecars = client.containers.list(all=True, filters={"label": f"{labels.KIND}=netfault"})
    assert [s.name for s in sidecars] == []
    tox = ToxiproxyClient(stack.status(quick=True).endpoints["toxiproxy"])
    assert tox.leftovers() == []
    for c in stack.containers().values():
        if c.status == "running" and c.labels.get(labels.ROLE) == "postgres":
            rules = client.containers.run("drills/tools:latest", ["iptables", "-S"], remove=True,
                                          cap_add=["NET_ADMIN"], network_mode=f"container:{c.id}")
            assert b" DR" not in rules, f"iptables rules left in {c.name}"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_mid_fault_heals_everything(tmp_path, sig):
    out = tmp_path / "run"
    with drill_with_faults_on(out, tmp_path / "state") as (proc, stack):
        t0 = time.monotonic()
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=300)
        print(f"{sig.name} -> exited after {time.monotonic() - t0:.1f}s")
        assert proc.returncode == 2, output  # aborted
        assert_nothing_left(stack)
        events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
        heals = {e["fault_id"] for e in events if e.get("kind") == "fault" and e.get("phase") == "heal" and e["ok"]}
        assert heals >= FAULTS
        verify = [e for e in events if e.get("kind") == "verify"]
        assert verify and verify[-1]["ok"], verify
        assert json.loads((out / "result.json").read_text())["verdict"] == "aborted"
        assert (out / "report.html").exists()


def test_sigkill_then_drill_clean_heals_and_removes(tmp_path):
    out, state = tmp_path / "run", tmp_path / "state"
    with drill_with_faults_on(out, state) as (proc, stack):
        os.killpg(proc.pid, signal.SIGKILL)  # the harness and its load generator die at once
        proc.wait(timeout=30)
        assert list((state / "active").glob("*.json")), "the ledger was not kept for drill clean"
        env = dict(os.environ, DRILLS_STATE_DIR=str(state))
        heal = subprocess.run([sys.executable, "-m", "drills", "clean", "--heal-only"], env=env,
                              capture_output=True, text=True, timeout=300)
        assert heal.returncode == 0, heal.stdout + heal.stderr
        assert_nothing_left(stack)
        assert not list((state / "active").glob("*.json"))


def test_abort_condition_stops_heals_and_reports_aborted(tmp_path):
    out = tmp_path / "run"
    scenario = Path(__file__).parent / "scenarios" / "abort-on-errors.yaml"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "drills", "run", str(scenario), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=400,
                          env=dict(os.environ, DRILLS_STATE_DIR=str(tmp_path / "state")))
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    aborts = [e for e in events if e.get("kind") == "abort"]
    assert aborts and "error_ratio" in aborts[0]["reason"]
    load_started = next(e["t"] for e in events if e.get("name") == "load_started")
    assert aborts[0]["t"] - load_started < 60, "the abort came late (steady phase is 120 s)"
    heals = [e for e in events if e.get("kind") == "fault" and e.get("phase") == "heal"]
    assert heals and all(e["ok"] for e in heals)
    assert [e for e in events if e.get("kind") == "verify"][-1]["ok"]
    assert json.loads((out / "result.json").read_text())["verdict"] == "aborted"
    print(f"aborted drill took {time.monotonic() - t0:.0f}s in all")
