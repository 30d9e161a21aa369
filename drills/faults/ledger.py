"""The ledger of faults injected and not yet healed, and the heal actions it records.

A heal is registered *before* its fault is injected, and written to disk at once (the run directory's
state.json plus a copy in the user's state directory), so `drill clean` can heal after the harness itself
was SIGKILLed — also on containers that are not ours and carry no label. A heal is plain data (a HealAction);
the family that wrote it names a handler for its `action` (drills/faults/heal.py runs them).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drills.rundir import files


@dataclass
class HealAction:
    """One idempotent step that undoes (part of) a fault; `action` names its handler (nemesis.HEALERS)."""

    action: str
    container: str | None = None     # container id (target or sidecar)
    name: str | None = None          # human name for messages
    chains: list[str] = field(default_factory=list)
    sidecar: str | None = None
    toxiproxy: str | None = None
    proxy: str | None = None
    toxic: str | None = None
    stack: str | None = None         # reference stack name (restore_cluster, take_backup)
    before: float | None = None      # restore_cluster: point in time (epoch) to recover to; None = latest
    xid: int | None = None           # restore_cluster: stop just before this transaction commits
    ports: dict[str, int] = field(default_factory=dict)  # restore_cluster: Patroni host port per node

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], "", {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealAction:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def describe(self) -> str:
        what = self.name or self.container or self.proxy or "?"
        if self.toxic:
            what = f"{self.proxy}/{self.toxic}"
        return f"{self.action} {what}"


def state_home() -> Path:
    base = os.environ.get("DRILLS_STATE_DIR") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "drills")
    return Path(base) / "active"


class Ledger:
    def __init__(self, run_dir: Path, run_id: str) -> None:
        self.run_id = run_id
        self.path = run_dir / files.LEDGER
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
