"""The built wheel, installed into a fresh virtualenv outside the checkout, is a whole `drill` (issue 15 item 6):
from a working folder with no harness/ and no scenarios/ it validates a library scenario, builds the images (the
checkout's images count as current: same input hashes), brings a stack up and down, and runs the demo drill.

Needs Docker, PyPI (or pip's find-links) for the dependencies, and the images `make setup` built. The venv's
dependencies are pinned by constraints.txt, so they are the versions the rest of the suite runs on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drills.rundir import files
from tests.unit.wheelbuild import ROOT, build_wheel

STACK = f"wheel{os.getpid()}"


@pytest.fixture(scope="module")
def drill(tmp_path_factory) -> Path:
    """The `drill` of a fresh virtualenv holding the wheel and its dependencies (nothing from the checkout)."""
    work = tmp_path_factory.mktemp("wheel-install")
    wheel = build_wheel(work)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--constraint",
                           str(ROOT / "constraints.txt"), str(wheel)], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv / "bin" / "drill"


@pytest.fixture()
def elsewhere(tmp_path) -> Path:
    """A working folder outside the checkout, with nothing of drills in it."""
    assert not tmp_path.is_relative_to(ROOT)
    return tmp_path


def _drill(drill: Path, cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(drill), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    print(f"$ drill {' '.join(args)} -> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def test_the_installed_drill_is_not_the_checkout(drill, elsewhere):
    probe = subprocess.run([str(drill.with_name("python")), "-c", "import drills, drills.resources as r; "
                            "print(drills.__file__); print(r.RESOURCES.origin)"],
                           cwd=elsewhere, capture_output=True, text=True, timeout=60)
    where, origin = probe.stdout.split()
    assert not Path(where).is_relative_to(ROOT) and origin == "installed", probe.stdout + probe.stderr


def test_validate_a_library_scenario_by_name(drill, elsewhere):
    proc = _drill(drill, elsewhere, "validate", "leader-kill")
    assert proc.returncode == 0 and proc.stdout.startswith("ok")


def test_images_build_finds_the_checkouts_images_current(drill, elsewhere):
    proc = _drill(drill, elsewhere, "images", "build", timeout=1800)
    assert proc.returncode == 0
    rows = [line.split() for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("drills/")]
    assert rows and all(row[1] in ("cached", "pulled") for row in rows), (
        "an installed copy should hash each image context like the checkout that built them (make setup)")


def test_stack_up_status_and_down(drill, elsewhere):
    try:
        up = _drill(drill, elsewhere, "stack", "up", "--name", STACK, "--api-replicas", "1", "--no-backups",
                    "--no-monitoring", timeout=900)
        assert up.returncode == 0
        status = _drill(drill, elsewhere, "stack", "status", "--name", STACK, "--json")
        assert status.returncode == 0 and json.loads(status.stdout)["healthy"] is True
    finally:
        down = _drill(drill, elsewhere, "stack", "down", "--name", STACK)
    assert down.returncode == 0


def test_the_demo_drill_runs_and_passes(drill, elsewhere):
    proc = _drill(drill, elsewhere, "demo", timeout=1800)
    assert proc.returncode == 0
    runs = list((elsewhere / "reports").glob("*leader-kill*"))
    assert len(runs) == 1 and (runs[0] / files.REPORT).is_file()   # written under the working folder
    assert json.loads((runs[0] / files.RESULT).read_text())["verdict"] == "pass"
