"""The run's secrets, kept out of the run directory (a game day uploads `reports/` as artifacts) in
owner-only files under the state directory: `secrets/<run id>/` (0700) holds `run_secret` (every synthetic
password derives from it) and `tokens-<worker>.jsonl` (session tokens the load saw, for the audit's
revoked-session check), each file created 0600. The drill deletes the folder once its audit is done;
`drill clean` deletes those of dead runs. Judging and rendering a run never need them.
"""

from __future__ import annotations

import secrets as _random
import shutil
from pathlib import Path
from typing import Any

from drills.rundir.statedir import private_dir, safe_name, state_dir, write_private
from drills.rundir.tolerant import Problems, iter_jsonl

RUN_SECRET = "run_secret"
TOKENS_GLOB = "tokens-*.jsonl"


def secrets_root() -> Path:
    return state_dir() / "secrets"


def secret_dir(run_id: str) -> Path:
    """secrets/<run id>/ (not created here). Raises ValueError for an id that is not a plain name."""
    name = safe_name(run_id)
    if name is None:
        raise ValueError(f"not a run id: {run_id!r}")
    return secrets_root() / name


def new_run_secret(run_id: str) -> str:
    """A fresh random run secret, written owner-only; the folder is created for the token files too."""
    secret = _random.token_hex(16)
    write_private(private_dir(secret_dir(run_id)) / RUN_SECRET, secret.encode())
    return secret


def run_secret(run_id: Any) -> str | None:
    """The run's secret, or None when it is gone (deleted after the audit) or `run_id` is not a name."""
    if safe_name(run_id) is None:
        return None
    try:
        return (secret_dir(run_id) / RUN_SECRET).read_text().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def tokens_path(folder: Path, worker: str) -> Path:
    """Where one load process writes the session tokens it saw."""
    return Path(folder) / f"tokens-{worker}.jsonl"


def read_tokens(run_id: Any) -> list[dict[str, Any]]:
    """Every session token the load recorded ({user, op, complete, token}); [] when there are none."""
    if safe_name(run_id) is None:
        return []
    folder = secret_dir(run_id)
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob(TOKENS_GLOB)) if folder.is_dir() else []:
        try:
            rows.extend(iter_jsonl(path, Problems()))
        except OSError:
            continue
    return rows


def runs_with_secrets() -> list[str]:
    root = secrets_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def forget(run_id: Any) -> None:
    """Delete the run's secrets (after its audit, or when `drill clean` finds its owner gone)."""
    if safe_name(run_id) is not None:
        shutil.rmtree(secret_dir(run_id), ignore_errors=True)
