"""Disaster recovery under load, for real: pgBackRest restores with Locust running, and a restore that
cannot succeed ends the drill as failed (a finding), never as a harness error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema

from drills.platform import engine, labels
from drills.runner.drill import RECOVERY_LATE_S

SCENARIOS = Path(__file__).parent / "scenarios"
RESULT_SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "drills" / "checks" / "result.schema.json")
                           .read_text())


def valid_result(out: Path) -> dict:
    """result.json of a real drill, checked against the shipped schema (the DR sections included)."""
    result = json.loads((out / "result.json").read_text())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(RESULT_SCHEMA).iter_errors(result)]
    assert not errors, errors[:10]
    return result


def run_drill(scenario: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drills", "run", str(SCENARIOS / scenario), "--out", str(out),
                           "--quiet"], capture_output=True, text=True, timeout=900)


def fault_events(out: Path, fault_id: str) -> list[dict]:
    lines = (out / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("kind") == "fault" and e.get("fault_id") == fault_id]


def assert_recovery_after_every_heal(out: Path) -> None:
    """The recovery phase judges a whole system: it starts once the last heal (a restore, the lost backup's new
    full backup) is done, however long past the end of steady that was."""
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    recovery = next(e for e in events if e.get("kind") == "phase" and e.get("name") == "recovery")
    last_heal = max(e["offset_s"] for e in events if e.get("kind") == "fault" and e.get("phase") == "heal")
    assert recovery["start_s"] >= last_heal - RECOVERY_LATE_S, (recovery, last_heal)


def assert_stack_gone(out: Path) -> None:
    name = json.loads((out / "meta.json").read_text())["stack"]["name"]
    client = engine.connect()
    assert client.containers.list(all=True, filters={"label": f"{labels.STACK}={name}"}) == []
    assert client.volumes.list(filters={"label": f"{labels.STACK}={name}"}) == []


def test_restore_under_load_skips_a_lost_backup_set(tmp_path: Path):
    out = tmp_path / "run"
    proc = run_drill("dr-lost-latest-backup.yaml", out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = valid_result(out)
    assert result["verdict"] == "pass"

    lost = fault_events(out, "lose-latest")[0]
    assert lost["ok"], lost
    # its heal (a new full backup) waits for the restore, a leader and the scheduled backups' lock
    assert [e["ok"] for e in fault_events(out, "lose-latest") if e["phase"] == "heal"] == [True], \
        fault_events(out, "lose-latest")
    lost_set = lost["data"]["lost"][0]
    restore = next(e for e in fault_events(out, "restore") if e["phase"] == "inject")
    assert restore["ok"], restore
    data = restore["data"]["restore"]
    if data["candidates"][0] == lost_set:             # the catalogue still offered the lost set first ...
        assert [s["set"] for s in data["sets_skipped"]] == [lost_set]  # ... the restore found out and skipped it
        assert data["set_used"] == data["candidates"][1]
    else:
        # A scheduled backup (every 10 s) that was running when the files went reconciled pgBackRest's catalogue
        # and dropped the lost set before the restore read it (seen in CI): the restore then never saw it, and
        # must still use the newest set that is really there.
        assert lost_set not in data["candidates"] and data["sets_skipped"] == []
        assert data["set_used"] == data["candidates"][0]
    assert data["cluster_removed_at"] < data["leader_at"] <= data["finished"]

    budgets = {b["metric"]: b for b in result["budgets"]}
    assert budgets["rto_s"]["passed"] and 0 < budgets["rto_s"]["observed"] < 60
    assert budgets["lost_after_recovery"]["observed"] == 0
    # purchases kept flowing to the restored cluster and were acknowledged
    history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines() if x.strip()]
    after = [h for h in history if h["op"] == "purchase" and h["outcome"] == "ok" and h["invoke"] > data["leader_at"]]
    assert len(after) > 20
    assert (out / "backups.json").exists() and (out / "report.html").exists() and (out / "junit.xml").exists()
    assert "Disaster recovery" in (out / "report.html").read_text()
    assert_recovery_after_every_heal(out)
    assert_stack_gone(out)


def test_restore_without_backups_fails_the_drill_not_the_harness(tmp_path: Path):
    out = tmp_path / "run"
    proc = run_drill("dr-no-backup.yaml", out)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]  # a budget failed (not 3: error)
    result = valid_result(out)
    assert result["verdict"] == "fail"
    restore = next(e for e in fault_events(out, "restore") if e["phase"] == "inject")
    assert restore["ok"] is False and "backups are off" in restore["error"]
    budgets = {b["metric"]: b for b in result["budgets"]}
    assert budgets["rto_s"]["passed"] is False
    for name in ("result.json", "report.html", "junit.xml", "events.jsonl", "history.jsonl", "meta.json"):
        assert (out / name).exists(), name
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    assert not [e for e in events if e.get("kind") == "error"], "a failed restore is a finding, not an error"
    assert_stack_gone(out)


def test_ctrl_c_during_a_restore_waits_for_it_and_restores_once(tmp_path: Path):
    out, state = tmp_path / "run", tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "drills", "run", str(SCENARIOS / "dr-interrupted-restore.yaml"),
                             "--out", str(out)], env=dict(os.environ, DRILLS_STATE_DIR=str(state)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen, interrupted = [], None
    for line in proc.stdout:
        seen.append(line)
        if "nodes re-created" in line and interrupted is None:
            os.killpg(proc.pid, signal.SIGINT)  # the old nodes are gone, the new ones are bootstrapping
            interrupted = time.monotonic()
    proc.wait(timeout=300)
    assert interrupted is not None, "".join(seen)[-3000:]
    assert proc.returncode == 2, "".join(seen)[-3000:]  # aborted
    restore = next(e for e in fault_events(out, "restore") if e["phase"] == "inject")
    assert restore["ok"], restore  # the restore was finished, not cut off half-way
    heal = next(e for e in fault_events(out, "lose-cluster") if e["phase"] == "heal")
    assert heal["ok"] and "data" not in heal, heal  # the heal found it restored: no second restore
    assert sum("restore done" in line for line in seen) == 1
    assert json.loads((out / "result.json").read_text())["verdict"] == "aborted"
    assert list(state.glob("active/*.json")) == []  # nothing left for `drill clean` to heal
    assert_stack_gone(out)
