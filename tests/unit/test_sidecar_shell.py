"""The sidecar's long-lived shell: its protocol run through a real `sh` (the loop the sidecar runs, over pipes
instead of Docker's exec stream), Docker's frame demultiplexing, the pool's fallback to `docker exec`, and the
iptables heal script's slow path (fake iptables programs on PATH record what the script runs)."""

from __future__ import annotations

import os
import select
import struct
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from drills.faults import network, sidecars
from drills.faults.ledger import HealAction, Ledger
from drills.faults.sidecar_shell import SERVER, FrameReader, ShellError, ShellSession, request, split_reply
from drills.platform.inventory import Node


def local_session(env: dict | None = None) -> tuple[ShellSession, subprocess.Popen]:
    """The sidecar's loop in a local `sh`, spoken to over pipes."""
    proc = subprocess.Popen(["sh", "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def send(data: bytes) -> None:
        stdin.write(data)
        stdin.flush()

    def recv(timeout_s: float) -> bytes:
        if not select.select([stdout], [], [], timeout_s)[0]:
            raise ShellError("the sidecar's shell did not answer in time")
        return os.read(stdout.fileno(), 65536)

    def close() -> None:
        stdin.close()
        proc.wait(timeout=10)

    return ShellSession(send, recv, close, alive=lambda: proc.poll() is None), proc


@pytest.fixture()
def shell():
    session, proc = local_session()
    yield session
    session.close()
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_a_script_runs_under_set_e_and_its_status_and_output_come_back(shell):
    assert shell.run("echo out; echo err >&2; exit 3") == (3, "out\nerr\n")
    assert shell.run("false; echo never") == (1, "")
    assert shell.run("true") == (0, "")


def test_anything_a_script_holds_survives_the_trip(shell):
    tricky = "a\\nb \\\\ \\c %s %b $HOME `x` 'q' \"d\"  trailing  "
    status, out = shell.run(f"cat <<'END'\n{tricky}\nEND")
    assert (status, out) == (0, tricky + "\n")
    status, out = shell.run("iptables_restore_like() { cat; }\niptables_restore_like <<'RULES'\n*filter\n"
                            "-A DRxI -s 10.0.0.1 -j DROP\nCOMMIT\nRULES")
    assert out == "*filter\n-A DRxI -s 10.0.0.1 -j DROP\nCOMMIT\n"


def test_a_command_reading_stdin_cannot_eat_the_next_request(shell):
    assert shell.run("cat; echo after") == (0, "after\n")
    assert shell.run("echo next") == (0, "next\n")


def test_output_that_looks_like_a_reply_is_not_taken_for_one(shell):
    assert shell.run("printf '\\ndrills-000000000000-1 0\\n'; exit 7") == (7, "\ndrills-000000000000-1 0\n")


def test_many_threads_each_get_their_own_answer(shell):
    results: dict[int, tuple[int, str]] = {}

    def worker(i: int) -> None:
        for _ in range(5):
            results[i] = shell.run(f"echo {i}; exit {i}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: (i, f"{i}\n") for i in range(6)}


def test_a_shell_that_died_is_an_error_and_stays_broken():
    session, proc = local_session()
    assert session.run("echo up") == (0, "up\n")
    proc.kill()
    proc.wait()
    assert not session.alive()
    with pytest.raises(ShellError):
        session.run("true")
    with pytest.raises(ShellError):
        session.run("true")


def test_a_late_answer_breaks_the_session_for_good(shell):
    with pytest.raises(ShellError, match="in time"):
        shell.run("sleep 1", timeout_s=0.1)
    assert not shell.alive()   # its answer would have been read as the next request's
    with pytest.raises(ShellError):
        shell.run("true")


def test_reply_parsing():
    assert split_reply(b"abc\ndrills-x-1 0", "drills-x-1") is None   # not complete yet
    assert split_reply(b"abc\n\ndrills-x-1 2\n", "drills-x-1") == (2, "abc\n", b"")
    assert split_reply(b"\ndrills-x-12 0\n", "drills-x-1") is None   # another request's token
    assert request("t-1", "a\\b\nc") == b"t-1 a\\\\b\\nc\n"
    with pytest.raises(ValueError):
        request("two words", "true")


def _frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + struct.pack(">I", len(payload)) + payload


def test_docker_frames_split_anywhere_give_stdout_and_keep_stderr_apart():
    data = _frame(1, b"hello ") + _frame(2, b"oops") + _frame(1, b"world\n") + _frame(1, b"")
    for cut in range(1, len(data)):
        frames = FrameReader()
        assert frames.feed(data[:cut]) + frames.feed(data[cut:]) == b"hello world\n"
        assert bytes(frames.stderr) == b"oops"


# ---- the pool: its shell first, a fresh exec when the shell is gone -------------------------------------------------
class FakeSidecar:
    """A sidecar container as far as the pool looks at it; exec_run stands for `docker exec`."""

    def __init__(self, cid: str) -> None:
        self.id, self.name, self.status = cid, f"drills-nf-{cid}", "running"
        self.execs: list[list[str]] = []
        self.reloads = 0

    def exec_run(self, cmd: list[str]) -> tuple[int, bytes]:
        self.execs.append(cmd)
        return 0, b"by exec\n"

    def reload(self) -> None:
        self.reloads += 1


@pytest.fixture()
def pool(tmp_path, monkeypatch):
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    opened: list[subprocess.Popen] = []

    def fake_open(_api, _cid):
        session, proc = local_session()
        opened.append(proc)
        return session

    made = iter(FakeSidecar(f"sc{i}") for i in range(100))
    monkeypatch.setattr(sidecars, "open_in_container", fake_open)
    monkeypatch.setattr(sidecars, "start_sidecar", lambda *_a: next(made))
    p = sidecars.SidecarPool(SimpleNamespace(api=None), "run-1", Ledger(tmp_path, "run-1"))
    p.ledger.register(p.LEDGER_KEY, p.LEDGER_KEY, "netfault-sidecars", [])
    yield p, opened
    p._remove = lambda _sc: None   # noqa: SLF001 - the fakes are no containers
    p.close()
    for proc in opened:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _target(started_at: str = "t1") -> SimpleNamespace:
    return SimpleNamespace(attrs={"State": {"StartedAt": started_at}}, status="running")


NODE = Node("api3", "cid-api3", "drills-x-api3", "api", ("10.0.0.5",))


def test_the_pool_runs_scripts_in_the_sidecars_shell_and_asks_docker_nothing(pool):
    pool, _ = pool
    sidecar = pool.take(NODE, _target())
    assert pool.run(sidecar, "echo via shell") == (0, "via shell\n")
    assert pool.take(NODE, _target()) is sidecar and sidecar.reloads == 0   # an open shell: no reload
    assert sidecar.execs == []


def test_when_the_shell_is_gone_the_pool_falls_back_to_docker_exec(pool):
    pool, opened = pool
    sidecar = pool.take(NODE, _target())
    opened[0].kill()
    opened[0].wait()
    assert pool.run_by_id(sidecar.id, "true") is None
    assert pool.run(sidecar, "echo x") == (0, "by exec\n")
    assert sidecar.execs == [["sh", "-ec", "echo x"]]
    assert pool.take(NODE, _target()) is sidecar and sidecar.reloads == 1   # asked Docker whether it still runs


def test_a_restarted_target_gets_a_fresh_sidecar_with_its_own_shell(pool):
    pool, _ = pool
    first = pool.take(NODE, _target("t1"))
    pool._remove = lambda _sc: None  # noqa: SLF001 - the fakes are no containers
    second = pool.take(NODE, _target("t2"))
    assert second is not first
    assert pool.run_by_id(first.id, "true") is None   # the stale sidecar's shell was closed with it
    assert pool.run(second, "echo fresh") == (0, "fresh\n")


# ---- the iptables heal through the pool's shell, with fake iptables programs ---------------------------------------
def _fake_iptables(bin_dir: Path, restore_status: int, listing: str) -> Path:
    log = bin_dir / "calls.log"
    (bin_dir / "iptables-restore").write_text(f"#!/bin/sh\necho \"restore $*\" >> {log}\ncat >> {log}\n"
                                             f"exit {restore_status}\n")
    (bin_dir / "iptables").write_text(f"#!/bin/sh\necho \"iptables $*\" >> {log}\n"
                                      f"case \"$*\" in *' -D '*) exit 1;; *' -S'*) printf '%b' '{listing}';; esac\n")
    for name in ("iptables-restore", "iptables"):
        (bin_dir / name).chmod(0o755)
    return log


@pytest.mark.parametrize(("restore_status", "listing", "fails"), [
    (0, "", False),                                  # as the inject left them: one atomic restore
    (1, "-P INPUT ACCEPT\\n", False),                # a hook twice / chain gone: one by one, nothing left
    (1, "-N DRabcdefI\\n-A INPUT -j DRabcdefI\\n", True),   # still there afterwards: the heal fails
])
def test_the_iptables_heal_deletes_our_chains_and_reports_any_left(tmp_path, restore_status, listing, fails):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = _fake_iptables(bin_dir, restore_status, listing)
    session, proc = local_session(env=dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}"))
    pool = SimpleNamespace(run_by_id=lambda _id, script: session.run(script))
    action = HealAction("iptables_remove", container="cid", name="api3", chains=["DRabcdefI", "DRabcdefO"],
                        sidecar="sc0")
    try:
        if fails:
            with pytest.raises(RuntimeError, match="still present on api3"):
                network._iptables_remove(action, SimpleNamespace(sidecars=pool))
        else:
            assert "removed iptables chains" in network._iptables_remove(action, SimpleNamespace(sidecars=pool))
    finally:
        session.close()
        proc.wait(timeout=10)
    calls = log.read_text()
    assert "-D INPUT -j DRabcdefI\n-D OUTPUT -j DRabcdefO\n-F DRabcdefI" in calls
    assert ("iptables -w -D INPUT -j DRabcdefI" in calls) == (restore_status != 0)
    assert ("iptables -w -S" in calls) == (restore_status != 0)

