"""Running heal actions read from the ledger, so the runner, a signal handler and `drill clean` (after the
harness was SIGKILLed) all heal the same way. Every action is idempotent; each is dispatched by its name to
the handler its family declares (nemesis.HEALERS).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

import docker
from docker.errors import APIError, NotFound

from drills.faults.context import HealEnv
from drills.faults.family import HealFailed
from drills.faults.ledger import HealAction, heal_order, state_home
from drills.faults.nemesis import HEALERS
from drills.platform.toxiproxy import ToxiproxyError
from drills.rundir import files

Env: TypeAlias = "HealEnv | docker.DockerClient | None"  # a bare client: `drill clean`, older callers


def execute(action: HealAction, env: HealEnv) -> str:
    """Perform one heal action; returns what was done. Raises only when the action truly failed."""
    handler = HEALERS.get(action.action)
    if handler is None:
        raise RuntimeError(f"unknown heal action {action.action!r}")
    try:
        return handler(action, env)
    except NotFound:
        return f"{action.describe()}: already gone"
    except HealFailed:
        raise
    except (APIError, ToxiproxyError) as exc:
        raise RuntimeError(f"{action.describe()} failed: {getattr(exc, 'explanation', None) or exc}") from None


def heal_env(env: Env) -> HealEnv:
    """A FaultContext heals with its drill's restore gate; a bare Docker client gets a gate of its own."""
    return env if isinstance(env, HealEnv) else HealEnv(env)


def heal_entry(entry: dict[str, Any], env: Env) -> tuple[list[str], list[str]]:
    """Run an entry's heal actions, last registered first; every action is tried even if one fails."""
    done, errors, _ = heal_entry_with_data(entry, env)
    return done, errors


def heal_entry_with_data(entry: dict[str, Any], env: Env) -> tuple[list[str], list[str], dict[str, Any]]:
    """heal_entry, plus the facts some heals report (a restore's timings) for the heal line's `data`."""
    henv = heal_env(env)
    done: list[str] = []
    errors: list[str] = []
    data: dict[str, Any] = {}
    for raw in reversed(entry.get("heal", [])):
        action = HealAction.from_dict(raw)
        try:
            outcome = execute(action, henv)
            done.append(str(outcome))
            data.update(getattr(outcome, "data", None) or {})
        except Exception as exc:  # keep healing the rest; report every failure
            errors.append(str(exc))
            data.update(getattr(exc, "data", None) or {})
    return done, errors, data


def heal_leftovers(client: docker.DockerClient | None, log: Callable[[str], None] = print) -> list[str]:
    """`drill clean`: heal every fault any crashed run left pending. Returns the errors."""
    errors: list[str] = []
    env = HealEnv(client)
    home = state_home()
    for path in sorted(home.glob("*.json")) if home.exists() else []:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            errors.append(f"{path}: unreadable ({exc})")
            continue
        pending = heal_order(doc.get("pending", {}))
        for entry in pending.values():
            done, errs = heal_entry(entry, env)
            for d in done:
                log(f"healed ({doc.get('run_id')}/{entry.get('fault_id')}): {d}")
            errors.extend(errs)
        if not errors:
            path.unlink(missing_ok=True)
            state = Path(doc.get("run_dir", "")) / files.LEDGER
            if state.exists():
                state.write_text(json.dumps({**doc, "pending": {}, "healed_by": "drill clean"}, indent=1))
    return errors
