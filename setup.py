"""Only what pyproject.toml cannot say: the wheel carries the repository's harness/ and scenarios/ as package data.

They stay at the repository root for developers (the docs, the Makefile, ruff and mypy name them there); at
build time build_py copies them into the built package as drills/_shipped/<tree>/, where drills.resources
finds them in an installed copy. What is shipped (which trees, which files) is read from drills/resources.py,
the one home of that rule; an sdist carries the trees through MANIFEST.in.
"""

import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
RESOURCES = runpy.run_path(str(ROOT / "drills" / "resources.py"))


class BuildPyWithTrees(build_py):
    """build_py, plus copies of the shipped trees under the built package (not in an editable install: that
    one reads the checkout itself)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "drills" / RESOURCES["SHIPPED"]
        shutil.rmtree(target, ignore_errors=True)  # a file deleted from the checkout must not linger in build/
        for tree in RESOURCES["SHIPPED_TREES"]:
            for rel in RESOURCES["shipped_files"](ROOT / tree):
                out = target / tree / rel
                self.mkpath(str(out.parent))
                self.copy_file(str(ROOT / tree / rel), str(out))  # keeps the mode: part of an image's hash


setup(cmdclass={"build_py": BuildPyWithTrees})
