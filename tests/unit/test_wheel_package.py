"""The built wheel carries the harness (image contexts, config templates, alert rules) and the scenario library,
and an installed copy finds them from any directory: the images hash the same as from the checkout (so images
built from one count as current for the other), and `drill validate` / `drill list scenarios` use the library.

Builds the real wheel (pip, setuptools from the build requirements), so it takes about 15 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from drills import resources
from drills.platform import images, stack_spec
from drills.scenario import alert_rules
from tests.unit.wheelbuild import build_wheel, source_of

PREFIX = f"drills/{resources.SHIPPED}"
# Run inside the installed copy: where its resources are, and each image context's input hash.
PROBE = """
import json, drills, drills.resources as r
from pathlib import Path
from drills.platform import images
from drills.scenario import alert_rules
stand_in = Path(images.__file__)
print(json.dumps({
    "package": drills.__file__, "origin": r.RESOURCES.origin, "harness": str(r.HARNESS),
    "scenarios": str(r.SCENARIOS), "cache": str(r.CACHE), "rules": str(alert_rules.RULES_DIR),
    "hashes": {s.key: images._hash_inputs(sorted(images._context_files(s.context)), "base")
               for s in images.specs(stand_in, stand_in)},
}))
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wheel")


@pytest.fixture(scope="module")
def wheel(work) -> Path:
    return build_wheel(work)


@pytest.fixture(scope="module")
def source(work, wheel) -> Path:
    """The checkout as it was when the wheel was built (others may edit the real one meanwhile)."""
    return source_of(work)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed by pip into a folder of its own (what site-packages would hold)."""
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                           "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return target


def _from_installed(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Python with the installed copy first on the path (ahead of the checkout's editable install), run from a
    folder that holds no harness/ and no scenarios/."""
    env = dict(os.environ, PYTHONPATH=str(installed), XDG_CACHE_HOME=str(cwd / "xdg-cache"), COLUMNS="200")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_wheel_carries_every_shipped_file_and_no_cache(wheel, source):
    names = set(zipfile.ZipFile(wheel).namelist())
    for tree in resources.SHIPPED_TREES:
        expected = {f"{PREFIX}/{tree}/{rel.as_posix()}" for rel in resources.shipped_files(source / tree)}
        shipped = {n for n in names if n.startswith(f"{PREFIX}/{tree}/")}
        assert expected and shipped == expected, (sorted(expected - shipped), sorted(shipped - expected))
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.split("/")[0] in resources.SHIPPED_TREES]  # no top-level harness/ package


def test_the_wheel_carries_each_image_context_template_rule_and_library_scenario(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    stand_in = Path(images.__file__)
    for spec in images.specs(stand_in, stand_in):
        assert f"{PREFIX}/harness/{spec.context.relative_to(images.HARNESS).as_posix()}/Dockerfile" in names
    for template in ("patroni.yml.tmpl", "haproxy.cfg.tmpl", "pgbackrest.conf.tmpl"):
        assert f"{PREFIX}/harness/{stack_spec.CONFIG_DIR.name}/{template}" in names
    for rule in ("patroni.yml", "slo.yml"):
        assert f"{PREFIX}/harness/monitoring/rules/{rule}" in names
    for name in ("leader-kill.yaml", "alerts-broken-rule.yaml", "rules/broken-no-leader.yml"):
        assert f"{PREFIX}/scenarios/{name}" in names
    assert {"drills/scenario.schema.json", "drills/load/locust_side/locustfile.py", "drills/py.typed"} <= names


def test_an_installed_copy_finds_its_own_resources_and_hashes_images_like_the_checkout(installed, source, tmp_path):
    proc = _from_installed(installed, tmp_path, "-c", PROBE)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert Path(found["package"]).is_relative_to(installed)
    assert found["origin"] == "installed"
    assert found["harness"] == str(installed / PREFIX / "harness")
    assert found["scenarios"] == str(installed / PREFIX / "scenarios")
    assert found["rules"] == str(installed / PREFIX / "harness" / "monitoring" / "rules")
    assert found["cache"] == str(tmp_path / "xdg-cache" / "drills")   # never a folder inside site-packages
    checkout = resources.locate(source / "drills")   # the checkout the wheel was built from, read as a checkout
    assert checkout.origin == "checkout"
    stand_in = Path(images.__file__)
    here = {s.key: images._hash_inputs(sorted(images._context_files(checkout.harness / s.context.relative_to(
        images.HARNESS))), "base") for s in images.specs(stand_in, stand_in)}
    assert found["hashes"] == here


def test_an_installed_drill_validates_and_lists_the_library_from_any_directory(installed, source, tmp_path):
    proc = _from_installed(installed, tmp_path, "-m", "drills", "validate", "leader-kill", "alerts-broken-rule")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    library = installed / PREFIX / "scenarios"
    assert proc.stdout.splitlines() == [f"ok      {library / 'leader-kill.yaml'}",
                                        f"ok      {library / 'alerts-broken-rule.yaml'}"]
    listed = _from_installed(installed, tmp_path, "-m", "drills", "list", "scenarios")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert str(library) in listed.stdout
    assert all(path.stem in listed.stdout for path in (source / "scenarios").glob("*.yaml"))
    missing = _from_installed(installed, tmp_path, "-m", "drills", "validate", "no-such-drill")
    assert missing.returncode == 4 and "no-such-drill: no such file" in missing.stdout + missing.stderr
    assert alert_rules.RULES_DIR == resources.HARNESS / "monitoring" / "rules"   # this process reads the checkout
    assert resources.RESOURCES.origin == "checkout"
