"""Remote load workers, the pure parts: token and proof, clock offset, names, health lines, `drill worker`'s
argument checks and environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drills.cli import main
from drills.load.remote_worker import WorkerUsageError, check_target, parse_master, worker_env
from drills.load.worker_auth import (
    ClockSample,
    TokenError,
    WorkerNames,
    best_offset,
    new_nonce,
    proof,
    read_token,
    verify,
)
from drills.load.worker_events import WorkerEventLog, WorkerHealth

TOKEN = "0123456789abcdef-shared"


def test_proof_binds_token_nonce_and_client() -> None:
    nonce = new_nonce()
    answer = proof(TOKEN, nonce, "host_1")
    assert verify(TOKEN, nonce, "host_1", answer)
    assert not verify(TOKEN + "x", nonce, "host_1", answer)       # another token
    assert not verify(TOKEN, new_nonce(), "host_1", answer)        # a replay for another nonce
    assert not verify(TOKEN, nonce, "host_2", answer)              # another client
    assert not verify(TOKEN, nonce, "host_1", None) and TOKEN not in answer


def test_read_token_sources_and_errors(tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text(TOKEN + "\n")
    assert read_token(f, env={}) == TOKEN
    assert read_token(env={"DRILLS_WORKER_TOKEN_FILE": str(f)}) == TOKEN
    assert read_token(env={"DRILLS_WORKER_TOKEN": f" {TOKEN} "}) == TOKEN
    with pytest.raises(TokenError, match=r"no worker token: set \$DRILLS_WORKER_TOKEN"):
        read_token(env={})
    with pytest.raises(TokenError, match="is 5 characters long; expected at least 16"):
        read_token(env={"DRILLS_WORKER_TOKEN": "short"})
    with pytest.raises(TokenError, match=f"cannot read the worker token file {tmp_path / 'nope'}"):
        read_token(tmp_path / "nope", env={})


def test_offset_is_the_midpoint_of_the_fastest_round_trip() -> None:
    # worker clock 2.5 s ahead; the slow sample (asymmetric delay) would say 2.5 + 0.4
    samples = [ClockSample(100.0, 103.4, 101.0), ClockSample(200.0, 202.51, 200.02), ClockSample(300.0, 302.6, 300.3)]
    assert best_offset(samples) == (2.5, 0.02)
    assert best_offset([]) is None
    assert best_offset([ClockSample(5.0, 1.0, 4.0)]) is None   # received before sent: not a sample


def test_names_are_readable_unique_and_stable() -> None:
    names = WorkerNames()
    assert names.name("loadgen-7f9c_0a1b2c") == "r-loadgen-7f9c-1"
    assert names.name("loadgen-7f9c_ffff") == "r-loadgen-7f9c-2"
    assert names.name("other_1") == "r-other-1"
    assert names.name("loadgen-7f9c_0a1b2c") == "r-loadgen-7f9c-1"
    assert names.name("we!rd host_1") == "r-we-rd-host-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_health_joined_missing_back_quit_lost(tmp_path: Path) -> None:
    clock = Clock()
    events = tmp_path / "events.jsonl"
    events.write_text('{"t": 1, "kind": "phase", "name": "steady"}\n')   # the harness's lines stay
    health = WorkerHealth(WorkerEventLog(events, clock))
    health.joined("a", "r-a-1", 2.5, 0.002)
    health.joined("b", "r-b-1", -0.1, 0.003)
    health.joined("c", "r-c-1", None, None)
    health.observe({"a": "running", "b": "running", "c": "running"})
    clock.now = 1010.0
    health.observe({"a": "missing", "b": "running", "c": "running"})
    health.observe({"a": "missing", "b": "running", "c": "running"})  # written once
    clock.now = 1014.0
    health.observe({"a": "running", "b": "missing", "c": "running"})
    clock.now = 1020.0
    health.quit("c", "the worker quit")
    health.observe({"a": "running"})   # b dropped by Locust while missing: still missing, not quit
    health.finish()
    got = lines(events)
    assert got[0]["kind"] == "phase"
    seq = [(e["worker"], e["name"]) for e in got[1:]]
    assert seq == [("r-a-1", "joined"), ("r-b-1", "joined"), ("r-c-1", "joined"), ("r-a-1", "missing"),
                   ("r-a-1", "joined"), ("r-b-1", "missing"), ("r-c-1", "quit"), ("r-b-1", "lost")]
    assert all(e["kind"] == "worker" and set(e) == {"t", "kind", "name", "worker", "offset_s", "rtt_s", "detail"}
               for e in got[1:])
    back = got[5]
    assert back["offset_s"] == 2.5 and back["t"] == 1014.0 and "back after 4.0 s missing" in back["detail"]
    assert got[-1]["t"] == 1020.0 and "missing for the last 6.0 s" in got[-1]["detail"]


def test_health_last_worker_and_silent_drop(tmp_path: Path) -> None:
    health = WorkerHealth(WorkerEventLog(tmp_path / "events.jsonl", Clock()))
    health.joined("a", "r-a-1", 0.0, 0.001)
    health.joined("b", "r-b-1", 0.0, 0.001)
    health.observe({"a": "missing"}, last_worker_detail="the last worker went missing: Locust stopped the load")
    health.finish()
    got = [(e["worker"], e["name"], e["detail"]) for e in lines(tmp_path / "events.jsonl")[2:]]
    assert got == [("r-a-1", "missing", "the last worker went missing: Locust stopped the load"),
                   ("r-b-1", "quit", "left without saying goodbye"),
                   ("r-a-1", "lost", "missing for the last 0.0 s of the load, never came back")]


def test_worker_arguments() -> None:
    assert parse_master("10.0.0.5:5557") == ("10.0.0.5", 5557)
    assert parse_master("[fd00::1]:5557") == ("fd00::1", 5557)
    for bad in ("10.0.0.5", ":5557", "h:0", "h:99999", "h:x"):
        with pytest.raises(WorkerUsageError, match="expected HOST:PORT"):
            parse_master(bad)
    assert check_target("http://10.0.0.7:8080/") == "http://10.0.0.7:8080"
    with pytest.raises(WorkerUsageError, match="expected an http"):
        check_target("10.0.0.7:8080")


def test_worker_env_carries_the_token_not_the_harness_files() -> None:
    base = {"PATH": "/bin", "DRILLS_LOAD_CONFIG": "/run/config.json", "DRILLS_RUN_SECRET": "s",
            "DRILLS_LOAD_WORKER": "w0", "HTTP_PROXY": "http://proxy:3128", "DRILLS_WORKER_TOKEN_FILE": "/t"}
    env = worker_env(TOKEN, "http://10.0.0.7:8080", base)
    assert env["DRILLS_WORKER_TOKEN"] == TOKEN and env["DRILLS_WORKER_TARGET"] == "http://10.0.0.7:8080"
    assert not {"DRILLS_LOAD_CONFIG", "DRILLS_RUN_SECRET", "DRILLS_LOAD_WORKER", "HTTP_PROXY",
                "DRILLS_WORKER_TOKEN_FILE"} & set(env)


def test_drill_worker_usage_errors(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRILLS_WORKER_TOKEN", raising=False)
    monkeypatch.delenv("DRILLS_WORKER_TOKEN_FILE", raising=False)
    assert main(["worker", "--master", "nowhere"]) == 64
    assert "--master 'nowhere': expected HOST:PORT" in capsys.readouterr().err
    assert main(["worker", "--master", "127.0.0.1:1"]) == 64
    assert "no worker token" in capsys.readouterr().err
