"""Build drills' wheel the way a user does (`pip wheel .`, setuptools from the build requirements), from a copy of
the checkout: an in-place build leaves build/ behind, whose stale files would ride along in the next wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Local state a checkout collects at its root and caches anywhere: none of it may matter to a build.
LOCAL_STATE = {".git", ".venv", ".cache", "reports", "build", "dist"}
CACHES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def _not_copied(folder: str, names: list[str]) -> set[str]:
    top = Path(folder) == ROOT
    return {n for n in names if n in CACHES or n.endswith((".pyc", ".egg-info")) or (top and n in LOCAL_STATE)}


def build_wheel(work: Path) -> Path:
    """The wheel built from a fresh copy of the checkout in `source_of(work)`; fails the test with pip's output.
    Compare the wheel with that copy, not the checkout, which others may be editing meanwhile."""
    source, out = source_of(work), work / "dist"
    shutil.copytree(ROOT, source, ignore=_not_copied, symlinks=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out),
                           str(source)], capture_output=True, text=True, timeout=600)
    wheels = sorted(out.glob("drills-*.whl"))
    assert proc.returncode == 0 and len(wheels) == 1, f"pip wheel failed:\n{proc.stdout}\n{proc.stderr}"
    return wheels[0]


def source_of(work: Path) -> Path:
    """The copy of the checkout a wheel was built from."""
    return work / "source"
