"""drills.resources: which layout the harness and the scenario library are read from, and library names."""

from __future__ import annotations

from pathlib import Path

import pytest

from drills import resources
from drills.errors import InfrastructureError


def _layout(root: Path, checkout: bool, shipped: bool) -> Path:
    package = root / "drills"
    package.mkdir(parents=True)
    if checkout:
        (root / "pyproject.toml").write_text("[project]\n")
        for tree in resources.SHIPPED_TREES:
            (root / tree).mkdir()
    if shipped:
        for tree in resources.SHIPPED_TREES:
            (package / resources.SHIPPED / tree).mkdir(parents=True)
    return package


def test_a_checkout_reads_the_repository_root_and_caches_in_it(tmp_path):
    found = resources.locate(_layout(tmp_path, checkout=True, shipped=False))
    assert found == resources.Resources(tmp_path / "harness", tmp_path / "scenarios", tmp_path / ".cache", "checkout")


def test_an_installed_package_reads_its_shipped_copy_and_caches_per_user(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    package = _layout(tmp_path / "site-packages", checkout=False, shipped=True)
    found = resources.locate(package)
    assert (found.harness, found.scenarios, found.origin) == (
        package / "_shipped" / "harness", package / "_shipped" / "scenarios", "installed")
    assert found.cache == tmp_path / "xdg" / "drills"


def test_the_shipped_copy_wins_over_a_folder_that_merely_sits_beside_the_package(tmp_path):
    package = _layout(tmp_path, checkout=True, shipped=True)
    assert resources.locate(package).origin == "installed"


def test_a_checkout_needs_its_pyproject_and_both_trees(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    package = _layout(tmp_path, checkout=True, shipped=False)
    (tmp_path / "scenarios").rmdir()
    found = resources.locate(package)
    assert found.origin == "missing" and found.harness == package / "_shipped" / "harness"
    assert found.cache == tmp_path / "home" / ".cache" / "drills"


def test_require_names_the_missing_folder_and_what_to_do(tmp_path):
    assert resources.require(tmp_path) == tmp_path
    with pytest.raises(InfrastructureError) as caught:
        resources.require(tmp_path / "harness")
    assert str(tmp_path / "harness") in caught.value.message and "reinstall" in (caught.value.hint or "")


def test_this_checkout_is_found_as_a_checkout():
    assert resources.RESOURCES.origin == "checkout"
    assert (resources.HARNESS / "images" / "postgres" / "Dockerfile").is_file()
    assert (resources.SCENARIOS / "leader-kill.yaml").is_file()


def test_junk_is_neither_shipped_nor_hashed(tmp_path):
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"x")
    (tmp_path / "pkg" / "m.pyc").write_bytes(b"x")
    (tmp_path / ".pytest_cache").mkdir()
    (tmp_path / ".pytest_cache" / "README.md").write_text("x")
    (tmp_path / "pkg" / "m.py").write_text("x = 1\n")
    (tmp_path / ".dockerignore").write_text("tests/\n")   # dot files are shipped: the build reads them
    assert list(resources.shipped_files(tmp_path)) == [Path(".dockerignore"), Path("pkg/m.py")]


@pytest.mark.parametrize("argument, expected", [
    ("leader-kill", "library/leader-kill.yaml"),          # a bare name of a library scenario
    ("short", "library/short.yml"),
    ("leader-kill.yaml", "leader-kill.yaml"),             # a file name: the user's own file, even if absent
    ("mine/leader-kill", "mine/leader-kill"),             # a path: as given
    ("no-such-drill", "no-such-drill"),                   # unknown: as given, and the loader says so
])
def test_library_scenario_resolves_bare_names_only(tmp_path, monkeypatch, argument, expected):
    library = tmp_path / "library"
    library.mkdir()
    (library / "leader-kill.yaml").write_text("name: leader-kill\n")
    (library / "short.yml").write_text("name: short\n")
    monkeypatch.chdir(tmp_path)
    got = resources.library_scenario(Path(argument), library)
    assert got == (tmp_path / expected if expected.startswith("library/") else Path(expected))


def test_a_file_in_the_working_directory_wins_over_the_library(tmp_path, monkeypatch):
    library = tmp_path / "library"
    library.mkdir()
    (library / "drill.yaml").write_text("name: drill\n")
    monkeypatch.chdir(tmp_path)
    Path("drill").write_text("name: mine\n")   # a file of that very name (no suffix) is the user's
    assert resources.library_scenario(Path("drill"), library) == Path("drill")
