"""`load_started` is the moment the load really started (its processes' markers), not when the harness's poll
noticed: the first registrations used to fall ~0.1 s before it, outside the load window, in every run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from drills.load.config import LoadConfig
from drills.load.runner import LoadHandle
from drills.rundir.writers import EventLog
from drills.runner.drill import START_LAG_MAX_S, DrillRun


def handle(tmp_path: Path, markers: dict[str, object]) -> LoadHandle:
    config = LoadConfig(api_url="http://127.0.0.1:1", run_dir=str(tmp_path), seed=0, duration=10.0)
    config.load_dir().mkdir(parents=True)
    for name, content in markers.items():
        (config.load_dir() / f"started-{name}.json").write_text(content if isinstance(content, str)
                                                               else json.dumps(content))
    names = ["master", "w0", "w1"] if len(markers) > 1 else ["w0"]
    return LoadHandle(config, procs=[SimpleNamespace(name=n) for n in names])  # type: ignore[misc]


def test_the_load_started_when_its_first_process_did(tmp_path: Path) -> None:
    assert handle(tmp_path, {"w0": {"worker": "w0", "t": 100.5}, "w1": {"t": 100.2}}).started_at() == 100.2


@pytest.mark.parametrize("marker", ["{not json", {"t": "soon"}, {"t": None}, "[1, 2]"])
def test_a_marker_that_says_no_time_gives_none(tmp_path: Path, marker: object) -> None:
    assert handle(tmp_path, {"w0": marker}).started_at() is None


def drill(tmp_path: Path) -> DrillRun:
    run = DrillRun.__new__(DrillRun)
    run.events = EventLog(tmp_path / "events.jsonl")
    return run


def line(tmp_path: Path) -> dict:
    (event,) = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    return event


def test_the_window_opens_when_the_load_started(tmp_path: Path) -> None:
    before_wall, before_mono = time.time(), time.monotonic()
    t0 = drill(tmp_path)._load_started(before_wall - 0.3)
    event = line(tmp_path)
    assert event["name"] == "load_started" and abs(event["t"] - (before_wall - 0.3)) < 0.01
    assert before_mono - 0.31 < t0 < before_mono - 0.29 and abs(event["mono"] - t0) < 0.001


@pytest.mark.parametrize("started", [None, "future", "long ago"])
def test_an_unknown_or_untrusted_start_is_now(tmp_path: Path, started: str | None) -> None:
    wall = time.time()
    at = {None: None, "future": wall + 5, "long ago": wall - START_LAG_MAX_S - 1}[started]
    mono = time.monotonic()
    t0 = drill(tmp_path)._load_started(at)
    assert abs(t0 - mono) < 0.05 and abs(line(tmp_path)["t"] - wall) < 0.05
