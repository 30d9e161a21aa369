"""`drill init --attach`: a scenario for one's own system plus a starter locustfile beside it; the scenario
validates as written (compose project, role probes, readiness, audit, budgets on the locustfile's own op), and
the starter really is a locustfile drills runs: its requests land in the history under the op and key the
scenario's audit and budgets name."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from drills.cli import main
from drills.errors import ExitCode
from drills.load.runner import start_load
from drills.scenario import check_file
from drills.scenario.model import AttachedStack, LoadProfile, Phases
from drills.scenario.skeleton import ATTACH_LOCUSTFILE, LOCUSTFILE_TEXT
from tests.unit.test_load_classify import CaseServer
from tests.unit.test_load_runner import children


def test_init_attach_writes_a_valid_scenario_and_its_starter_locustfile(capsys, tmp_path: Path) -> None:
    path = tmp_path / "orders-drill.yaml"
    assert main(["init", "--attach", str(path)]) == ExitCode.PASS
    out = "".join(capsys.readouterr().out.split("\n"))   # the console folds long lines
    assert f"wrote {tmp_path / ATTACH_LOCUSTFILE}" in out and "valid" in out
    assert (tmp_path / ATTACH_LOCUSTFILE).read_text() == LOCUSTFILE_TEXT
    scenario, issues = check_file(path)
    assert issues == [] and scenario is not None
    stack = scenario.stack
    assert isinstance(stack, AttachedStack) and stack.compose_project == "my-shop"
    assert set(stack.role_probes) == {"leader"} and stack.ready.role == "leader" and stack.ready.hold == 3.0
    assert scenario.load.locustfile == ATTACH_LOCUSTFILE
    assert scenario.audit is not None and set(scenario.audit.writes) == {"create_order"}
    assert {b.op for b in scenario.budgets} == {"create_order"}
    assert "  - defaults" not in path.read_text()   # the reference stack's defaults judge purchases


def test_init_attach_keeps_a_locustfile_that_is_there(capsys, tmp_path: Path) -> None:
    (tmp_path / ATTACH_LOCUSTFILE).write_text("# mine\n")
    assert main(["init", "--attach", str(tmp_path / "d.yaml")]) == ExitCode.PASS
    assert "kept" in capsys.readouterr().out and (tmp_path / ATTACH_LOCUSTFILE).read_text() == "# mine\n"


def test_init_without_attach_writes_no_locustfile(capsys, tmp_path: Path) -> None:
    assert main(["init", str(tmp_path / "d.yaml")]) == ExitCode.PASS
    assert not (tmp_path / ATTACH_LOCUSTFILE).exists()


def test_the_starter_locustfile_records_the_ops_and_keys_the_scenario_names(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    assert main(["init", "--attach", str(path)]) == ExitCode.PASS
    scenario = check_file(path)[0]
    assert scenario is not None
    load = scenario.load
    load.profile = LoadProfile(type="constant_users", users=2, spawn_rate=10)
    with CaseServer() as server:
        handle = start_load(load, Phases(warmup=0, steady=30, recovery=0), server.url, tmp_path / "run", "s", 1,
                            tmp_path)
        try:
            handle.wait_started(30)
            time.sleep(2.0)
        finally:
            assert handle.stop(timeout=20) == 0
    assert children() == []
    lines = [json.loads(x) for x in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    orders = [x for x in lines if x["op"] == "create_order"]
    assert orders and all(re.fullmatch(r"[0-9a-f]{32}", x["key"]) for x in orders)
    assert len({x["key"] for x in orders}) == len(orders)
    assert any(x["op"] == "list_orders" for x in lines)


@pytest.mark.parametrize("name", ["orders.yaml"])
def test_the_dry_run_of_the_skeleton_shows_no_builtin_mix(capsys, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    assert main(["init", "--attach", str(path)]) == ExitCode.PASS
    capsys.readouterr()
    assert main(["run", "--dry-run", str(path)]) == ExitCode.PASS
    out = " ".join(capsys.readouterr().out.split())
    assert "the locustfile's own tasks" in out and "purchase 70" not in out


def test_the_attach_guides_snippets_make_one_valid_scenario(tmp_path: Path) -> None:
    """docs/attach.md's YAML blocks (system, load, faults, audit, budgets), put together, validate."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "attach.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 5
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE_TEXT)
    path = tmp_path / "guide.yaml"
    path.write_text("name: guide\nphases: {warmup: 10s, steady: 40s, recovery: 30s}\n" + "".join(blocks))
    scenario, issues = check_file(path)
    assert issues == [] and scenario is not None and scenario.audit is not None
