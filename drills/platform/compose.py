"""A compose project as the drill sees it: its containers, found by the labels docker-compose (v1 and v2) puts
on every container, grouped into services.

A service with one container is a node named after the service (`redis-a`); a service scaled to N replicas is N
nodes `sentinel-1` … `sentinel-N` (the replica's `com.docker.compose.container-number`) that a target
`{service: sentinel}` selects among, as the reference stack's roles select among its replicas. One-off
containers (`docker-compose run`) and the drill's own sidecars are not part of the system.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drills.platform import labels

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"

_TRAILING_NUMBER = re.compile(r"[_-]([0-9]+)$")


@dataclass(frozen=True)
class Member:
    """One container of a compose project: its node name in the drill and the compose service it belongs to."""

    key: str
    service: str
    container: Any   # docker's Container (or anything with .name, .id, .labels)


def project_filter(project: str) -> dict[str, str]:
    """Docker's filter for every container of a compose project."""
    return {"label": f"{PROJECT}={project}"}


def members(containers: Iterable[Any]) -> dict[str, Member]:
    """The project's containers by node name, in service order (replicas by their number)."""
    by_service: dict[str, list[Any]] = {}
    for c in containers:
        found = c.labels or {}
        if str(found.get(ONEOFF, "")).lower() == "true" or found.get(labels.KIND):
            continue
        by_service.setdefault(found.get(SERVICE) or c.name, []).append(c)
    out: dict[str, Member] = {}
    for service in sorted(by_service):
        group = sorted(by_service[service], key=lambda c: (_number(c), c.name))
        for c in group:
            key = service if len(group) == 1 else f"{service}-{_number(c)}"
            if key in out:   # a container being recreated (compose renames the old one) or a name clash
                key = f"{key}-{c.id[:8]}"
            out[key] = Member(key, service, c)
    return out


def _number(c: Any) -> int:
    """The replica number compose gave the container (its label, else the end of its name)."""
    raw = (c.labels or {}).get(NUMBER)
    if raw and str(raw).isdigit():
        return int(raw)
    m = _TRAILING_NUMBER.search(c.name or "")
    return int(m.group(1)) if m else 0


def projects(containers: Iterable[Any]) -> dict[str, int]:
    """Compose projects present on the engine and their number of containers (for "did you mean")."""
    out: dict[str, int] = {}
    for c in containers:
        name = (c.labels or {}).get(PROJECT)
        if name:
            out[name] = out.get(name, 0) + 1
    return out
