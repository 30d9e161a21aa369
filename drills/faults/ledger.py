"""The ledger of faults injected and not yet healed, and the heal actions it records.

A heal is registered *before* its fault is injected, and written to disk at once (the run directory's
state.json plus a copy in the state directory's `active/`), so `drill clean` can heal after the harness itself
was SIGKILLed — also on containers that are not ours and carry no label. A heal is plain data (a HealAction);
the family that wrote it names a handler for its `action` (drills/faults/heal.py runs them). Each copy names
its owner (pid and process start time), so `drill clean` never heals a drill that is still running.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drills.rundir import files, owner, vault
from drills.rundir.owner import Owner
from drills.rundir.statedir import safe_name, state_dir


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
    admin: str | None = None         # a load balancer's HAProxy runtime API, 127.0.0.1:PORT (zonal_shift)
    servers: list[str] = field(default_factory=list)      # backend/server names set ready again (zonal_shift)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], "", {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealAction:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def read(cls, data: object) -> HealAction | None:
        """A heal action read back from a ledger file, or None when it is not one (a damaged or foreign
        file must never crash `drill clean`, nor make it act on a half-read action)."""
        if not isinstance(data, dict) or not isinstance(data.get("action"), str):
            return None
        for key, value in data.items():
            kinds = _FIELD_TYPES.get(key)
            if kinds is not None and value is not None and not isinstance(value, kinds):
                return None
            if isinstance(value, bool) and kinds is not None and bool not in kinds:
                return None
        if not all(isinstance(c, str) for c in [*(data.get("chains") or []), *(data.get("servers") or [])]) or not all(
                isinstance(k, str) and isinstance(v, int) for k, v in (data.get("ports") or {}).items()):
            return None
        return cls.from_dict(data)

    def describe(self) -> str:
        what = self.name or self.container or self.proxy or "?"
        if self.toxic:
            what = f"{self.proxy}/{self.toxic}"
        return f"{self.action} {what}"


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "action": (str,), "container": (str,), "name": (str,), "chains": (list,), "sidecar": (str,),
    "toxiproxy": (str,), "proxy": (str,), "toxic": (str,), "stack": (str,), "before": (int, float),
    "xid": (int,), "ports": (dict,), "admin": (str,), "servers": (list,),
}


def heal_actions(entry: dict[str, Any]) -> tuple[list[HealAction], list[str]]:
    """An entry's heal actions in the order registered, and what could not be read (in words)."""
    raw = entry.get("heal")
    if not isinstance(raw, list):
        return [], [f"heal list is {type(raw).__name__}, not a list"] if raw is not None else []
    actions: list[HealAction] = []
    problems: list[str] = []
    for i, item in enumerate(raw):
        action = HealAction.read(item)
        if action is None:
            problems.append(f"heal action {i} unreadable: {json.dumps(item, default=str)[:120]}")
        else:
            actions.append(action)
    return actions, problems


def state_home() -> Path:
    """Where the ledger copies live: <state dir>/active/."""
    return state_dir() / "active"


class Ledger:
    def __init__(self, run_dir: Path, run_id: str, owned_by: Owner | None = None) -> None:
        self.run_id = run_id
        self.owner = owned_by or Owner.me()
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
        doc = {"run_id": self.run_id, "run_dir": str(self.path.parent), "owner": self.owner.to_dict(),
               "pending": self._pending}
        for path in (self.path, self.registry):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc, indent=1))
            os.replace(tmp, path)


SIDECARS_KEY = "sidecars"  # the pre-started network-fault sidecars (drills/faults/sidecars.py)


def heal_order(pending: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Faults first, the sidecars they are healed through last (removing those first would strand rules)."""
    return dict(sorted(pending.items(), key=lambda kv: kv[0] == SIDECARS_KEY))


# ---- what `drill clean` finds in the state directory ----------------------------------------------------------
@dataclass
class KnownRun:
    """A run the state directory knows: its owner (None: not recorded) and the faults it left pending."""

    run_id: str
    owner: Owner | None = None
    run_dir: str | None = None
    ledger: Path | None = None                 # active/<run id>.json, when there is one
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def known_runs() -> dict[str, KnownRun]:
    """Every run with a run record, a ledger copy or secrets in the state directory, by run id."""
    runs: dict[str, KnownRun] = {}

    def run(run_id: str) -> KnownRun:
        return runs.setdefault(run_id, KnownRun(run_id))

    for run_id, doc in owner.records().items():
        known = run(run_id)
        known.owner = Owner.from_dict(doc.get("owner"))
        known.run_dir = doc.get("run_dir") if isinstance(doc.get("run_dir"), str) else None
        known.problems += [doc["problem"]] if "problem" in doc else []
    home = state_home()
    for path in sorted(home.glob("*.json")) if home.is_dir() else []:
        known = run(path.stem)
        known.ledger = path
        try:
            doc = json.loads(path.read_text())
            pending = doc.get("pending") or {}
            known.pending = {str(k): v for k, v in pending.items() if isinstance(v, dict)}
        except (OSError, ValueError, AttributeError) as exc:
            known.problems.append(f"{path}: unreadable ({exc})")
            continue
        known.owner = known.owner or Owner.from_dict(doc.get("owner"))
        known.run_dir = known.run_dir or (doc.get("run_dir") if isinstance(doc.get("run_dir"), str) else None)
    for run_id in vault.runs_with_secrets():
        run(run_id)
    return runs


Healer = Callable[[dict[str, Any]], tuple[list[str], list[str]]]


def heal_left(run: KnownRun, heal: Healer, log: Callable[[str], None], dry_run: bool = False) -> list[str]:
    """Heal what a dead run left pending (`heal` runs one entry: drills.faults.heal.heal_entry), or with
    `dry_run` only say what would be healed. Once all is healed the ledger copy goes and the run directory's
    state.json says who healed it. Returns the errors."""
    errors: list[str] = []
    for entry in heal_order(run.pending).values():
        where = f"{run.run_id}/{entry.get('fault_id')}"
        if dry_run:
            actions, problems = heal_actions(entry)
            for action in reversed(actions):
                log(f"would heal ({where}): {action.describe()}")
            errors += [f"{where}: {p}" for p in problems]
            continue
        done, errs = heal(entry)
        for line in done:
            log(f"healed ({where}): {line}")
        errors += [f"{where}: {e}" for e in errs]
    if dry_run or errors or run.ledger is None:
        return errors
    run.ledger.unlink(missing_ok=True)
    _mark_healed(run)
    return errors


def _mark_healed(run: KnownRun) -> None:
    """state.json in the run directory: nothing pending, healed by `drill clean` (only when that file is the
    run's own ledger: a damaged copy must not make us write anywhere else)."""
    if not run.run_dir:
        return
    state = Path(run.run_dir) / files.LEDGER
    try:
        doc = json.loads(state.read_text())
        if not isinstance(doc, dict) or doc.get("run_id") != run.run_id:
            return
        state.write_text(json.dumps({**doc, "pending": {}, "healed_by": "drill clean"}, indent=1))
    except (OSError, ValueError):
        pass


def forget_run(run_id: str, keep_record: bool = False) -> None:
    """A dead run was cleaned: drop its secrets, and its record unless its resources stay (`--heal-only`:
    the next `drill clean` must still know it is dead). A ledger copy with faults pending is never dropped."""
    if safe_name(run_id) is not None:
        vault.forget(run_id)
        if not keep_record:
            owner.release(run_id)
