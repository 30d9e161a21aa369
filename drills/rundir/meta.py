"""Creating a run directory and its meta.json (who, what, with which versions and seed)."""

from __future__ import annotations

import json
import platform
import re
import secrets
import shlex
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from drills import __version__
from drills.rundir import files

REPORTS = Path("reports")


def new_run_dir(scenario_name: str, out: Path | None, root: Path = REPORTS) -> Path:
    """`out` if given (created), else <root>/<UTC timestamp>-<scenario name>/ (root: reports/)."""
    if out is None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario_name).strip("-") or "drill"
        out = root / f"{stamp}-{safe}"
        n = 1
        while out.exists():
            n += 1
            out = root / f"{stamp}-{safe}-{n}"
    out.mkdir(parents=True, exist_ok=True)
    return out.resolve()  # absolute: the load processes run with another working directory


def write_meta(run_dir: Path, scenario_path: Path, scenario_name: str, seed: int, run_id: str,
               extra: dict | None = None) -> dict:
    shutil.copyfile(scenario_path, run_dir / files.SCENARIO)
    rerun = ["drill", "run", str(scenario_path), "--seed", str(seed)]
    meta = {
        "run_id": run_id,
        "scenario": scenario_name,
        "scenario_path": str(scenario_path),
        "seed": seed,
        "started": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "started_t": round(time.time(), 3),
        "command": (shlex.join(["drill", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("drill")
                    else shlex.join(sys.argv)),
        "rerun_command": shlex.join(rerun),
        "run_secret": secrets.token_hex(16),
        "versions": {"drills": __version__, "python": platform.python_version()},
        **(extra or {}),
    }
    update_meta(run_dir, meta)
    return meta


def update_meta(run_dir: Path, meta: dict) -> None:
    path = run_dir / files.META
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=2, default=str))
    tmp.replace(path)
