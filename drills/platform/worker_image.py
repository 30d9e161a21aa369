"""The remote load worker's image (`drills/loadworker:<DRILLS_IMAGE_TAG>`), built on demand, not by
`drill images build`: the reference stack does not need it, and the wheelhouse it installs from (drills
from this checkout plus the exact versions of its dependencies installed here, constraints.txt) costs a
minute and ~100 MB the first time.

The wheelhouse is made on this machine with this virtualenv's pip (`pip wheel`), in the cache folder
(outside the checkout), so the image build needs Debian's mirror but no Python package index. The drills
wheel is built with a fixed SOURCE_DATE_EPOCH, so an unchanged checkout gives the same bytes and the image
(labelled with the hash of its inputs like every other image, drills.platform.images.build_one) is not
rebuilt.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker

from drills.errors import ImageBuildError
from drills.platform.images import ImageSpec, Log, build_one, image_tag, resolve_base
from drills.resources import CACHE, HARNESS

KEY = "loadworker"
WHEELHOUSE = "loadworker-wheels"
SOURCE_DATE_EPOCH = "1767225600"  # 2026-01-01: reproducible drills wheel bytes
PIP_TIMEOUT_S = 900


def wheelhouse(log: Log = print) -> Path:
    """drills (from the checkout) and its dependencies as wheels, pinned to what this environment runs."""
    root = HARNESS.parent
    if not (root / "pyproject.toml").is_file():
        raise ImageBuildError("the load worker image is built from a drills checkout (it installs drills from "
                              "its wheel); this drills is an installed package",
                              hint="build it from a checkout, or install drills in your own worker image")
    out = Path(CACHE) / WHEELHOUSE
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("drills-*.whl"):
        old.unlink()
    constraints = root / "constraints.txt"
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(out), str(root)]
    if constraints.is_file():
        cmd[5:5] = ["-c", str(constraints)]
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH, PIP_DISABLE_PIP_VERSION_CHECK="1")
    log("making the load worker's wheelhouse (pip wheel) ...")
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=PIP_TIMEOUT_S,
                              cwd=str(root))
    except subprocess.TimeoutExpired:
        raise ImageBuildError(f"pip wheel did not finish within {PIP_TIMEOUT_S}s") from None
    if proc.returncode != 0:
        raise ImageBuildError("pip wheel for the load worker image failed",
                              details=(proc.stderr or proc.stdout)[-3000:])
    if not list(out.glob("drills-*.whl")):
        raise ImageBuildError(f"pip wheel made no drills wheel in {out}")
    return out


def build(client: docker.DockerClient, log: Log = print, force: bool = False) -> str:
    """Build (or find current) the worker image; returns its tag."""
    wheels = wheelhouse(log)
    base = resolve_base(client, log)
    base_id = client.images.get(base).id
    extra = {f"wheels/{p.name}": p for p in sorted(wheels.glob("*.whl"))}
    spec = ImageSpec(KEY, image_tag(KEY), HARNESS / "images" / KEY, extra)
    return build_one(client, spec, base, base_id, log, force).tag
