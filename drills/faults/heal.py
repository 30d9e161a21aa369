"""Running heal actions read from the ledger, so the runner, a signal handler and `drill clean` (after the
harness was SIGKILLed) all heal the same way. Every action is idempotent; each is dispatched by its name to
the handler its family declares (nemesis.HEALERS).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import docker
from docker.errors import APIError, NotFound

from drills.faults.context import HealEnv
from drills.faults.family import HealFailed
from drills.faults.ledger import HealAction, heal_actions
from drills.faults.nemesis import HEALERS
from drills.platform.toxiproxy import ToxiproxyError

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
    actions, problems = heal_actions(entry)
    errors += [f"not healed: {p}" for p in problems]
    for action in reversed(actions):
        try:
            outcome = execute(action, henv)
            done.append(str(outcome))
            data.update(getattr(outcome, "data", None) or {})
        except Exception as exc:  # keep healing the rest; report every failure
            errors.append(str(exc))
            data.update(getattr(exc, "data", None) or {})
    return done, errors, data
