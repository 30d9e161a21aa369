"""The ledger of faults injected and not yet healed.

A heal is registered *before* its fault is injected, and written to disk at once (the run directory's
state.json plus a copy in the user's state directory), so `drill clean` can heal after the harness itself
was SIGKILLed — also on containers that are not ours and carry no label.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

from drills.faults.heal import HealAction, execute


def state_home() -> Path:
    base = os.environ.get("DRILLS_STATE_DIR") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "drills")
    return Path(base) / "active"


class Ledger:
    def __init__(self, run_dir: Path, run_id: str) -> None:
        self.run_id = run_id
        self.path = run_dir / "state.json"
        self.registry = state_home() / f"{run_id}.json"
        self._pending: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def register(self, key: str, fault_id: str, fault_type: str, actions: list[HealAction]) -> None:
        """Record how to undo a fault; call before injecting, and again as the actions become known."""
        with self._lock:
            self._pending[key] = {"fault_id": fault_id, "type": fault_type,
                                  "heal": [a.to_dict() for a in actions]}
            self._write()

    def extend(self, key: str, actions: list[HealAction]) -> None:
        with self._lock:
            if key in self._pending:
                self._pending[key]["heal"].extend(a.to_dict() for a in actions)
                self._write()

    def resolve(self, key: str) -> None:
        with self._lock:
            self._pending.pop(key, None)
            self._write()

    def pending(self) -> dict[str, dict[str, Any]]:
        """Pending entries in heal order (see `heal_order`)."""
        with self._lock:
            return heal_order(json.loads(json.dumps(self._pending)))

    def close(self) -> None:
        """Nothing left to heal: drop the registry copy (state.json stays, empty, as a record)."""
        with self._lock:
            self._write()
            if not self._pending:
                self.registry.unlink(missing_ok=True)

    def _write(self) -> None:
        doc = {"run_id": self.run_id, "run_dir": str(self.path.parent), "pending": self._pending}
        for path in (self.path, self.registry):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc, indent=1))
            os.replace(tmp, path)


SIDECARS_KEY = "sidecars"  # the pre-started network-fault sidecars (drills/faults/sidecars.py)


def heal_order(pending: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Faults first, the sidecars they are healed through last (removing those first would strand rules)."""
    return dict(sorted(pending.items(), key=lambda kv: kv[0] == SIDECARS_KEY))


def heal_entry(entry: dict[str, Any], client: docker.DockerClient | None) -> tuple[list[str], list[str]]:
    """Run an entry's heal actions, last registered first; every action is tried even if one fails."""
    done, errors, _ = heal_entry_with_data(entry, client)
    return done, errors


def heal_entry_with_data(entry: dict[str, Any], client: docker.DockerClient | None
                         ) -> tuple[list[str], list[str], dict[str, Any]]:
    """heal_entry, plus the facts some heals report (a restore's timings) for the heal line's `data`."""
    done: list[str] = []
    errors: list[str] = []
    data: dict[str, Any] = {}
    for raw in reversed(entry.get("heal", [])):
        action = HealAction.from_dict(raw)
        try:
            outcome = execute(action, client)
            done.append(str(outcome))
            data.update(getattr(outcome, "data", None) or {})
        except Exception as exc:  # keep healing the rest; report every failure
            errors.append(str(exc))
            data.update(getattr(exc, "data", None) or {})
    return done, errors, data


def heal_leftovers(client: docker.DockerClient | None, log: Callable[[str], None] = print) -> list[str]:
    """`drill clean`: heal every fault any crashed run left pending. Returns the errors."""
    errors: list[str] = []
    home = state_home()
    for path in sorted(home.glob("*.json")) if home.exists() else []:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            errors.append(f"{path}: unreadable ({exc})")
            continue
        pending = heal_order(doc.get("pending", {}))
        for entry in pending.values():
            done, errs = heal_entry(entry, client)
            for d in done:
                log(f"healed ({doc.get('run_id')}/{entry.get('fault_id')}): {d}")
            errors.extend(errs)
        if not errors:
            path.unlink(missing_ok=True)
            state = Path(doc.get("run_dir", "")) / "state.json"
            if state.exists():
                state.write_text(json.dumps({**doc, "pending": {}, "healed_by": "drill clean"}, indent=1))
    return errors
