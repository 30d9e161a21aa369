"""A run with its own locustfile keeps a copy of it where the copied scenario.yaml looks, so the run directory
alone validates, re-judges with `drill judge RUN --scenario RUN/scenario.yaml`, and re-runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from drills.checks.rejudge import rejudge
from drills.rundir import files
from drills.rundir.meta import write_meta
from drills.rundir.scenario_copy import copy_scenario
from drills.scenario import ScenarioInvalid, load_scenario
from tests.unit.test_checks_builder import Run

SCENARIO = {
    "name": "shop-drill",
    "load": {"locustfile": "load/shop.py", "user_classes": ["Shopper"], "mix": {"checkout": 1},
             "profile": {"type": "constant_users", "users": 2, "spawn_rate": 2}},
    "budgets": [{"metric": "success_ratio", "op": "checkout", "min": 0.5}],
}
LOCUSTFILE = "from locust import HttpUser, task\n\nclass Shopper(HttpUser):\n    @task\n    def checkout(self):\n" \
             "        self.client.post('/checkout', context={'op': 'checkout'})\n"


def _scenario_folder(root: Path, locustfile: str = "load/shop.py") -> Path:
    root.mkdir(parents=True)
    (root / locustfile).parent.mkdir(parents=True, exist_ok=True)
    (root / locustfile).write_text(LOCUSTFILE)
    doc = {**SCENARIO, "load": {**SCENARIO["load"], "locustfile": locustfile}}
    path = root / "shop.yaml"
    path.write_text("# my own shop\n" + yaml.safe_dump(doc, sort_keys=False))
    return path


def test_the_copied_scenario_finds_its_locustfile_in_the_run_directory(tmp_path: Path) -> None:
    path = _scenario_folder(tmp_path / "mine")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    meta = write_meta(run_dir, path, "shop-drill", 7, "shop-drill-run", locustfile="load/shop.py")
    assert (run_dir / files.SCENARIO).read_bytes() == path.read_bytes()   # byte for byte, comments too
    assert (run_dir / "load" / "shop.py").read_text() == LOCUSTFILE
    assert meta["locustfile_copy"] == "load/shop.py"
    assert json.loads((run_dir / files.META).read_text())["locustfile_copy"] == "load/shop.py"
    # Without the copy the recorded scenario is no scenario any more (its locustfile is not found) ...
    (run_dir / "load" / "shop.py").unlink()
    with pytest.raises(ScenarioInvalid, match="no such file"):
        load_scenario(run_dir / files.SCENARIO)
    # ... with it, it validates where it lies.
    copy_scenario(run_dir, path, "load/shop.py")
    assert load_scenario(run_dir / files.SCENARIO).load.locustfile == "load/shop.py"


def test_drill_judge_by_the_recorded_copy_of_a_custom_scenario(tmp_path: Path) -> None:
    path = _scenario_folder(tmp_path / "mine")
    run = Run(tmp_path / "run")
    run.stream(every=0.5)
    run.final_from_history()
    run.write()
    copy_scenario(run.dir, path, "load/shop.py")
    done = rejudge(run.dir, run.dir / files.SCENARIO, now=1_800_000_000.0)
    assert [b["metric"] for b in done.result["budgets"]] == ["success_ratio"]
    assert done.path.exists()


def test_the_builtin_locustfile_copies_nothing_more(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert copy_scenario(run_dir, path, None) == {}
    assert sorted(p.name for p in run_dir.iterdir()) == [files.SCENARIO]


@pytest.mark.parametrize("name", [files.RESULT, files.LOG])
def test_a_locustfile_named_like_a_run_file_is_not_copied_over_it(tmp_path: Path, name: str) -> None:
    path = tmp_path / "mine" / "s.yaml"
    path.parent.mkdir()
    path.write_text("name: s\n")
    (path.parent / name).write_text("not ours")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / name).write_text("the run's own")
    done = copy_scenario(run_dir, path, name)
    assert "its own files" in done["locustfile_not_copied"]
    assert (run_dir / name).read_text() == "the run's own"


def test_a_locustfile_that_cannot_be_read_is_a_note_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    done = copy_scenario(run_dir, path, "gone.py")
    assert "could not be copied" in done["locustfile_not_copied"] and (run_dir / files.SCENARIO).exists()
