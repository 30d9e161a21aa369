"""What faults and heals need to act, passed in explicitly: no module global carries run state.

A heal needs a Docker client and the drill's restore gate (HealEnv); an inject needs that plus the view of the
system under test, Toxiproxy, the ledger and the RNG (FaultContext, which is a HealEnv, so the nemesis heals
with the context it injected with). `drill clean` runs in a process of its own and heals with a bare HealEnv.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import docker

from drills.faults.ledger import Ledger
from drills.faults.targets import TargetError, resolve
from drills.platform.inventory import Node, StackView
from drills.platform.toxiproxy import ToxiproxyClient
from drills.scenario.model import Fault

TARGET_POLL_S = 0.2  # how often a target with `wait` looks again for a holder of its role


class RestoreGate:
    """One restore at a time per drill: a scheduled restore_cluster and a disaster's heal (end of steady,
    Ctrl-C) can meet, and two restores replacing the same nodes would wreck each other. A heal that waited
    for `lock` asks `restored_since` and skips when a restore finished meanwhile."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._last_success: dict[str, float] = {}

    def mark_restored(self, stack_name: str) -> None:
        """A restore of this stack succeeded just now (call with `lock` held)."""
        self._last_success[stack_name] = time.time()

    def restored_since(self, stack_name: str, t: float) -> bool:
        """Whether a restore of this stack succeeded (finished) after epoch `t`, through this gate."""
        return self._last_success.get(stack_name, 0.0) > t


@dataclass
class HealEnv:
    """What a heal action needs besides its own data (drills/faults/heal.py)."""

    client: docker.DockerClient | None
    restores: RestoreGate = field(default_factory=RestoreGate, kw_only=True)
    # container id -> an engine call an inject left finishing (a SIGKILL's teardown, drills/faults/process.py)
    unsettled: dict[str, Future] = field(default_factory=dict, kw_only=True)

    def docker(self) -> docker.DockerClient:
        """The Docker client, for heals that cannot do without one."""
        if self.client is None:
            raise RuntimeError("a Docker client is needed")
        return self.client

    def settle(self, container_id: str, timeout_s: float = 60.0) -> str | None:
        """Wait for the engine call an inject left finishing on this container, so a heal never starts a
        container Docker is still tearing down; its error, if it failed."""
        fut = self.unsettled.pop(container_id, None)
        if fut is None:
            return None
        try:
            fut.result(timeout=timeout_s)
        except Exception as exc:   # the heal goes on: it reports what it finds
            return str(exc)
        return None


@dataclass
class FaultContext(HealEnv):
    client: docker.DockerClient
    view: StackView
    ledger: Ledger
    run_id: str
    rng: random.Random = field(default_factory=random.Random)
    toxiproxy: ToxiproxyClient | None = None
    log: Callable[[str], None] = lambda _m: None
    # fault id -> epoch just before its (latest) injection; operator_error stores the database's own clock.
    # restore_cluster's before_fault recovers to this moment.
    marks: dict[str, float] = field(default_factory=dict)
    xids: dict[str, int] = field(default_factory=dict)   # operator_error: its transaction id (exact PITR target)
    sidecars: Any = None     # a SidecarPool: network faults exec iptables in pre-started sidecars

    @property
    def stack_name(self) -> str | None:
        """The reference stack's name (None for an attached stack: it has no backup repository of ours)."""
        prefix = "drills.stack="
        lf = self.view.label_filter or ""
        return lf[len(prefix):] if lf.startswith(prefix) else None

    def targets(self, fault: Fault) -> list[Node]:
        """The fault's target nodes, resolved now against freshly read containers (a role means its holder now).
        With `target.wait`, a role nobody holds yet is looked up again until it has a holder or the wait ends:
        "the leader once it is back" is a moment, not a fixed delay that a slow machine overshoots."""
        if not fault.target:
            return []
        deadline = time.monotonic() + (fault.target.wait or 0.0)
        while True:
            self.view.refresh()
            try:
                return resolve(fault.target, self.view, self.rng)
            except TargetError:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(TARGET_POLL_S)


class ActionFailed(Exception):
    """An action (e.g. restore_cluster) ran and failed: recorded with what it found, the drill goes on."""

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.data = data or {}


@dataclass
class Injection:
    """What an inject did, for events.jsonl."""

    targets: list[Node] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)   # type-specific facts for events.jsonl (`data`)

    def target_dicts(self, roles: dict[str, str] | None = None) -> list[dict]:
        roles = roles or {}
        return [{"service": n.service, "container": n.container_name, "role": roles.get(n.service, n.role)}
                for n in self.targets]
