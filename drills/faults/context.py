"""What a fault needs to act: the engine, the view of the system under test, Toxiproxy, the ledger, the RNG."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

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


@dataclass
class Injection:
    """What an inject did, for events.jsonl."""

    targets: list[Node] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    detail: str = ""

    def target_dicts(self, roles: dict[str, str] | None = None) -> list[dict]:
        roles = roles or {}
        return [{"service": n.service, "container": n.container_name, "role": roles.get(n.service, n.role)}
                for n in self.targets]
