"""A run's owner (pid + process start time) in the ledger and the run record, and what `drill clean` reads back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drills.faults.ledger import HealAction, Ledger, forget_run, heal_left, known_runs, state_home
from drills.rundir import files, owner, vault
from drills.rundir.owner import Owner, start_ticks
from tests.unit.owners import dead_owner


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_this_process_is_alive_and_its_start_time_is_read_from_proc() -> None:
    me = Owner.me()
    assert me.pid == os.getpid() and me.alive()
    if Path("/proc/self/stat").exists():
        assert isinstance(me.start, int) and me.start > 0 and me.boot


def test_a_reused_pid_is_not_the_owner() -> None:
    me = Owner.me()
    if me.start is None:
        pytest.skip("no /proc")
    assert not Owner(me.pid, me.start + 1, me.boot, me.host).alive()


def test_a_finished_process_is_dead_another_boot_too_another_host_cannot_be_judged() -> None:
    me = Owner.me()
    assert not dead_owner().alive()
    if me.boot:
        assert not Owner(me.pid, me.start, "another-boot", me.host).alive()
    assert Owner(999_999_999, 1, "b", "some-other-host").alive()  # never touched: cannot tell from here


def test_a_zombie_is_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    ticks = start_ticks(proc.pid)
    try:
        for _ in range(200):  # until it has exited (not reaped: a zombie)
            stat = Path(f"/proc/{proc.pid}/stat")
            if not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.01)
        if ticks is not None:
            assert not Owner(proc.pid, ticks, Owner.me().boot, Owner.me().host).alive()
    finally:
        proc.wait()


def test_owner_round_trips_through_a_record_and_a_label() -> None:
    me = Owner.me()
    assert Owner.from_dict(me.to_dict()) == me and Owner.decode(me.encode()) == me
    assert Owner.from_dict({"pid": "1"}) is None and Owner.from_dict(None) is None
    assert Owner.decode("garbage") is None and Owner.decode(None) is None


def test_the_run_record_is_claimed_once_private_and_released(tmp_path: Path, state: Path) -> None:
    me = owner.claim("run-a", tmp_path / "run")
    assert me == Owner.me()
    path = state / "runs" / "run-a.json"
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        owner.claim("run-a", tmp_path / "other")
    with pytest.raises(ValueError):
        owner.claim("../escape", tmp_path)
    assert owner.records()["run-a"]["run_dir"] == str(tmp_path / "run")
    owner.release("run-a")
    assert owner.records() == {}


def test_the_ledger_names_its_owner_in_both_copies(tmp_path: Path, state: Path) -> None:
    ledger = Ledger(tmp_path, "run-b")
    ledger.register("f-0", "freeze", "pause", [HealAction("unpause", container="c1", name="api1")])
    for path in (tmp_path / files.LEDGER, state_home() / "run-b.json"):
        assert Owner.from_dict(json.loads(path.read_text())["owner"]) == Owner.me()


def test_known_runs_merges_records_ledgers_and_secrets(tmp_path: Path) -> None:
    owner.claim("rec-only", tmp_path / "r1")
    Ledger(tmp_path, "with-ledger", owned_by=dead_owner()).register("f", "f", "pause", [HealAction("unpause")])
    vault.new_run_secret("secret-only")
    state_home().joinpath("broken.json").write_text("{nope")
    runs = known_runs()
    assert set(runs) == {"rec-only", "with-ledger", "secret-only", "broken"}
    assert runs["rec-only"].owner == Owner.me() and runs["rec-only"].run_dir == str(tmp_path / "r1")
    assert runs["with-ledger"].owner is not None and not runs["with-ledger"].owner.alive()
    assert list(runs["with-ledger"].pending) == ["f"]
    assert runs["secret-only"].owner is None and runs["broken"].problems


def test_heal_left_dry_run_lists_and_changes_nothing(tmp_path: Path) -> None:
    Ledger(tmp_path, "dead", owned_by=dead_owner()).register(
        "f-0", "freeze-api1", "pause", [HealAction("unpause", container="c1", name="api1")])
    lines: list[str] = []
    calls: list[dict] = []
    errors = heal_left(known_runs()["dead"], lambda e: (calls.append(e), ([], []))[1], lines.append, dry_run=True)
    assert errors == [] and calls == [] and lines == ["would heal (dead/freeze-api1): unpause api1"]
    assert (state_home() / "dead.json").exists()


def test_heal_left_heals_then_drops_the_ledger_copy_and_marks_state_json(tmp_path: Path) -> None:
    Ledger(tmp_path, "dead", owned_by=dead_owner()).register(
        "f-0", "freeze-api1", "pause", [HealAction("unpause", container="c1", name="api1")])
    lines: list[str] = []
    assert heal_left(known_runs()["dead"], lambda e: (["unpaused api1"], []), lines.append) == []
    assert lines == ["healed (dead/freeze-api1): unpaused api1"]
    assert not (state_home() / "dead.json").exists()
    doc = json.loads((tmp_path / files.LEDGER).read_text())
    assert doc["pending"] == {} and doc["healed_by"] == "drill clean"


def test_a_failed_heal_keeps_the_ledger_for_next_time(tmp_path: Path) -> None:
    Ledger(tmp_path, "dead", owned_by=dead_owner()).register("f-0", "x", "pause", [HealAction("unpause")])
    assert heal_left(known_runs()["dead"], lambda e: ([], ["boom"]), lambda _m: None) == ["dead/x: boom"]
    assert (state_home() / "dead.json").exists()


def test_a_ledger_pointing_elsewhere_is_not_written_through(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / files.LEDGER).write_text('{"run_id": "someone-else"}')
    Ledger(tmp_path, "dead", owned_by=dead_owner()).register("f", "x", "pause", [HealAction("unpause")])
    doc = json.loads((state_home() / "dead.json").read_text())
    (state_home() / "dead.json").write_text(json.dumps({**doc, "run_dir": str(elsewhere)}))
    heal_left(known_runs()["dead"], lambda e: (["ok"], []), lambda _m: None)
    assert (elsewhere / files.LEDGER).read_text() == '{"run_id": "someone-else"}'


def test_forget_run_drops_secrets_and_the_record_unless_asked_to_keep_it(tmp_path: Path) -> None:
    owner.claim("gone", tmp_path)
    vault.new_run_secret("gone")
    forget_run("gone", keep_record=True)
    assert vault.run_secret("gone") is None and "gone" in owner.records()
    forget_run("gone")
    assert owner.records() == {}
