"""The scenario as it was run, copied into the run directory with the locustfile it names.

A scenario's own locustfile is a path relative to the scenario's folder (drills/scenario/locustfile_path.py:
relative, no `..`, a regular file inside the folder). Copied to the same relative path in the run directory,
it sits exactly where the copied scenario.yaml looks for it, so the copy stays byte for byte the file that was
run and still validates, re-judges (`drill judge RUN --scenario RUN/scenario.yaml`) and re-runs from the run
directory alone. Only the locustfile is copied, not modules it imports from beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from drills.rundir import files

# Names the run directory keeps for itself (the rest of files.py names files of the runs folder).
_RESERVED = frozenset((files.EVENTS, files.HISTORY, files.STATS, files.PROBES, files.ALERTS, files.META,
                       files.SCENARIO, files.FINAL_STATE, files.BACKUPS, files.LEDGER, files.RESULT, files.REPORT,
                       files.JUNIT, files.LOG))


def copy_scenario(run_dir: Path, scenario_path: Path, locustfile: str | None = None) -> dict[str, str]:
    """Copy `scenario_path` to scenario.yaml and its own locustfile (None: the builtin one, nothing to copy)
    to the same path relative to `run_dir`. Returns what meta.json records of the locustfile: {"locustfile_copy": path}
    or {"locustfile_not_copied": why} (a copy that cannot be made never stops the drill)."""
    run_dir = Path(run_dir)
    shutil.copyfile(scenario_path, run_dir / files.SCENARIO)
    if not locustfile:
        return {}
    why = _destination_problem(run_dir, locustfile)
    if why is None:
        source, target = Path(scenario_path).parent / locustfile, run_dir / locustfile
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return {"locustfile_copy": locustfile}
        except OSError as exc:
            why = f"{source} could not be copied: {exc.strerror or exc}"
    return {"locustfile_not_copied": why}


def _destination_problem(run_dir: Path, locustfile: str) -> str | None:
    rel = PurePosixPath(locustfile)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:   # validation refuses these: never written
        return f"{locustfile!r} is not a path inside the scenario's folder"
    if rel.parts[0] in _RESERVED or (run_dir / rel).exists() or (run_dir / rel).is_symlink():
        return f"{locustfile!r} is a name the run directory uses for its own files"
    return None
