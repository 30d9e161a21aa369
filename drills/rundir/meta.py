"""A run directory's meta.json: who, what, with which versions and seed. Never the run secret: that lives
in the state directory (drills/rundir/vault.py), since meta.json is uploaded with the reports."""

from __future__ import annotations

import json
import platform
import shlex
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from drills import __version__
from drills.rundir import files


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
