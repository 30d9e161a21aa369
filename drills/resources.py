"""Where drills' files that are not Python live: the reference stack's harness (image build contexts, config
templates, alert rules) and the scenario library — in a source checkout and in an installed package alike.

Two layouts, one place that knows both:
- a checkout keeps them at the repository root (harness/, scenarios/): there they are edited, linted, tested,
  and named by the docs, the Makefile and the scenarios' own comments;
- a wheel carries copies under drills/_shipped/ (setup.py copies SHIPPED_TREES into the build, with the files
  `shipped_files` yields), so `pip install` / `pipx install` gives a `drill` that builds the images, brings the
  stack up and runs the library from any directory.
The shipped copy wins when it exists (an installed drills never reads a stray harness/ beside site-packages).
The copies are byte-for-byte the checkout's files with their modes, so an image's input hash is the same from
either, and images built from a checkout count as current for an installed `drill` and the other way round.

This module imports only the standard library at import time: setup.py runs it to learn what to ship.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED = "_shipped"                        # drills/_shipped/<tree> in a wheel; absent from a checkout
SHIPPED_TREES = ("harness", "scenarios")    # repository-root folders a wheel carries
# Never shipped nor hashed into an image: caches a checkout collects as it is used.
JUNK_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
JUNK_SUFFIXES = frozenset({".pyc", ".pyo"})
SCENARIO_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Resources:
    """The folders drills reads its shipped files from; `origin` says which layout they came from."""

    harness: Path
    scenarios: Path
    cache: Path           # downloads and builds kept between runs (the Patroni wheel, a Toxiproxy binary)
    origin: str           # "installed", "checkout", or "missing" (neither layout found: `require` says so)


def locate(package_dir: Path = PACKAGE_DIR) -> Resources:
    """The shipped copy inside the package when there is one, else the checkout the package sits in."""
    shipped = package_dir / SHIPPED
    if all((shipped / tree).is_dir() for tree in SHIPPED_TREES):
        return Resources(shipped / "harness", shipped / "scenarios", user_cache_dir(), "installed")
    root = package_dir.parent
    if (root / "pyproject.toml").is_file() and all((root / tree).is_dir() for tree in SHIPPED_TREES):
        return Resources(root / "harness", root / "scenarios", root / ".cache", "checkout")
    return Resources(shipped / "harness", shipped / "scenarios", user_cache_dir(), "missing")


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/drills, else ~/.cache/drills: an installed package's own folder is no place to write."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "drills"


def is_junk(relative: Path) -> bool:
    """A cache file or folder (bytecode, test and lint caches): neither shipped nor part of an image's inputs."""
    return any(part in JUNK_PARTS for part in relative.parts) or relative.suffix in JUNK_SUFFIXES


def shipped_files(tree: Path) -> Iterator[Path]:
    """The files of one tree that a wheel carries, relative to it, sorted."""
    for path in sorted(tree.rglob("*")):
        rel = path.relative_to(tree)
        if path.is_file() and not is_junk(rel):
            yield rel


RESOURCES = locate()
HARNESS = RESOURCES.harness
SCENARIOS = RESOURCES.scenarios
CACHE = RESOURCES.cache


def require(folder: Path) -> Path:
    """The folder, or a clear error when this installation lacks it (a wheel built without its data)."""
    if folder.is_dir():
        return folder
    from drills.errors import InfrastructureError  # not at import time: setup.py runs this file on its own

    raise InfrastructureError(
        f"drills' {folder.name} files are missing from this installation (looked in {folder} and in a source "
        f"checkout beside {PACKAGE_DIR})",
        hint="reinstall drills from its wheel (`pip install --force-reinstall drills-*.whl`) or run it from a "
             "checkout (`make setup`)")


def library_scenario(argument: Path, library: Path = SCENARIOS) -> Path:
    """A scenario argument as given when it names a file; a bare name (no folder, no .yaml) of a library
    scenario otherwise, so `drill run leader-kill` works from any directory. Anything else is returned as it
    is and its loader says what is wrong."""
    if argument.exists() or argument.suffix in SCENARIO_SUFFIXES or len(argument.parts) != 1:
        return argument
    for suffix in SCENARIO_SUFFIXES:
        candidate = library / f"{argument.name}{suffix}"
        if candidate.is_file():
            return candidate
    return argument
