"""What a fault needs to act: the engine, the view of the system under test, Toxiproxy, the ledger, the RNG."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker

from drills.faults.ledger import Ledger
from drills.faults.targets import Node, StackView
from drills.platform.toxiproxy import ToxiproxyClient


@dataclass
class FaultContext:
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
