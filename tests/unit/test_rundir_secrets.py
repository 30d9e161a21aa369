"""Secrets stay put: the run secret and the session tokens live owner-only in the state directory, never in the
run directory a game day uploads, never in report.html; judging and rendering a run do without them."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from drills.checks import write_result
from drills.cli import main
from drills.errors import ExitCode
from drills.load.locust_side.recorder import Recorder
from drills.platform import ticketing_audit as truth
from drills.report import render_run
from drills.rundir import files, vault
from drills.rundir.meta import write_meta
from drills.rundir.passwords import derive_password
from drills.rundir.statedir import write_private
from drills.rundir.writers import BufferedLineWriter
from drills.scenario.model import Budget
from tests.unit.test_checks_builder import Run, at
from tests.unit.test_load_stats import response
from tests.unit.test_ticketing_audit import FakeApi, tables

RUN_ID = "leader-kill-20251126-141503-3fa9c1"
TOKEN = "tok-bob-Zq8Hk2LmN4pR7sT1vW3xY5"


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DRILLS_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_run_secret_is_created_owner_only_and_forgotten(state: Path) -> None:
    old = os.umask(0)  # even with the loosest umask: the mode comes from the open call, not a later chmod
    try:
        secret = vault.new_run_secret(RUN_ID)
    finally:
        os.umask(old)
    folder = vault.secret_dir(RUN_ID)
    assert folder.parent == state / "secrets" and mode(folder) == 0o700 and mode(folder.parent) == 0o700
    assert mode(folder / vault.RUN_SECRET) == 0o600 and len(secret) == 32
    assert vault.run_secret(RUN_ID) == secret
    with pytest.raises(FileExistsError):  # never reuses a file someone else made
        write_private(folder / vault.RUN_SECRET, b"x")
    vault.forget(RUN_ID)
    assert not folder.exists() and vault.run_secret(RUN_ID) is None


@pytest.mark.parametrize("bad", ["../../etc", "", ".hidden", "a/b", None, 7])
def test_a_run_id_read_from_a_file_never_becomes_a_path_elsewhere(bad: object) -> None:
    assert vault.run_secret(bad) is None and vault.read_tokens(bad) == []
    vault.forget(bad)  # no-op


def test_a_private_line_file_is_created_0600_and_an_older_wider_one_is_narrowed(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        fresh = BufferedLineWriter(tmp_path / "tokens-w0.jsonl", mode=0o600)
        (tmp_path / "tokens-w1.jsonl").write_text("")
        os.chmod(tmp_path / "tokens-w1.jsonl", 0o666)
        older = BufferedLineWriter(tmp_path / "tokens-w1.jsonl", mode=0o600)
    finally:
        os.umask(old)
    fresh.close()
    older.close()
    assert mode(fresh.path) == 0o600 and mode(older.path) == 0o600


def test_meta_json_no_longer_holds_the_secret(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\n")
    meta = write_meta(tmp_path, scenario, "s", 1, RUN_ID)
    assert "run_secret" not in meta and "run_secret" not in (tmp_path / files.META).read_text()


def test_a_drill_keeps_its_secret_in_the_state_dir_not_in_its_run_dir(tmp_path: Path, state: Path) -> None:
    from drills.runner.drill import DrillRun
    from drills.scenario import load_scenario

    path = Path(__file__).resolve().parents[2] / "scenarios" / "leader-kill.yaml"
    run = DrillRun(load_scenario(path), path, tmp_path / "out", 1, False, True, lambda _m: None)
    assert vault.run_secret(run.run_id) == run.secret
    assert (state / "runs" / f"{run.run_id}.json").exists()
    assert not any(run.secret.encode() in p.read_bytes() for p in run.run_dir.rglob("*") if p.is_file())


def _recorded_run(tmp_path: Path) -> tuple[Path, str]:
    """A run as the load and the harness now leave it: secret and tokens in the vault, files in the run dir."""
    secret = vault.new_run_secret(RUN_ID)
    tokens = BufferedLineWriter(vault.tokens_path(vault.secret_dir(RUN_ID), "w0"), mode=0o600)
    recorder = Recorder("w0", None, None, clock=lambda: at(1.51), tokens=tokens)
    recorder.on_request("POST", "/sessions", 10.0, 0, response(201, {"token": TOKEN}),
                        {"op": "login", "user": "bob", "_token": True}, None, start_time=at(1.5))
    tokens.close()
    assert mode(tokens.path) == 0o600
    run = Run(tmp_path / "run")
    run.meta = {"run_id": RUN_ID, "seed": 7, "versions": {"drills": "0"}}
    run.purchase("ok", 1.0, key="key-1", seats=(1,), order_id=1)
    run.op("login", "ok", 1.5, user="bob")
    run.rotate("alice", "ok", 3.0, version=2)
    run.rotate("bob", "ok", 3.0, version=2)
    return run.write(), secret


def test_the_audit_reads_secret_and_tokens_from_the_vault_and_nothing_of_them_reaches_the_report(
        tmp_path: Path) -> None:
    out, secret = _recorded_run(tmp_path)
    pw = lambda user, v: derive_password(secret, user, v)  # noqa: E731
    api = FakeApi(tables(), passwords={"alice": {pw("alice", 2)}, "bob": {pw("bob", 1), pw("bob", 2)}},
                  live_tokens={TOKEN})
    state = truth.collect(api, out)  # type: ignore[arg-type]
    assert state.credential_checks and state.credential_checks["checked"] == 2  # the secret was found
    assert state.session_checks and state.session_checks["checked"] == 1  # and the token
    assert state.session_checks["working"] == [{"user": "bob", "minted_t": at(1.51), "op": "login"}]
    vault.forget(RUN_ID)  # what the drill does once the audit is done
    assert main(["report", str(out)]) == ExitCode.PASS  # judged again and rendered without any secret
    result = json.loads((out / files.RESULT).read_text())
    assert result["audit"]["credentials_checked"] == 2 and result["audit"]["credential_changes_lost"] == 1
    assert (out / files.REPORT).exists()
    sensitive = [secret, TOKEN, pw("bob", 1), pw("bob", 2), pw("alice", 2)]
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [s for s in sensitive if s.encode() in data], path


def test_an_older_run_with_the_secret_and_tokens_in_its_files_never_shows_them(tmp_path: Path) -> None:
    run = Run(tmp_path / "old")
    run.meta["run_secret"] = "old-run-secret-4f9a2c"  # where runs before the vault kept it
    run.op("login", "ok", 1.0, user="alice", token="tok-old-login-8d3e")  # and their histories the tokens
    run.rotate("alice", "ok", 3.0, version=2, token="tok-old-rotate-1b7c")
    run.purchase("ok", 2.0)
    final = run.final_from_history()
    final.credential_checks = {"checked": 1, "eligible": 1, "errors": 0,
                               "users": [{"user": "alice", "acknowledged_version": 2, "final_version": 2,
                                          "old_works": True, "new_works": True}]}
    write_result(run.dir, run.judge(Budget("credential_changes_lost", max=0)))
    html_path, junit_path = render_run(run.dir)
    html = html_path.read_text()
    assert "old password still works" in html  # the sample that quotes the rotation is there ...
    for text in (html, junit_path.read_text(), (run.dir / files.RESULT).read_text()):
        for s in ("old-run-secret-4f9a2c", "tok-old-login-8d3e", "tok-old-rotate-1b7c"):
            assert s not in text  # ... and nothing secret with it
