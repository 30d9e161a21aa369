"""`drill clean`: remove every resource carrying the drills.run label, and nothing else."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import docker
from docker.errors import APIError, NotFound

from drills.platform import labels


@dataclass
class CleanReport:
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.containers) + len(self.networks) + len(self.volumes)


def clean(client: docker.DockerClient, dry_run: bool = False, log: Callable[[str], None] = print) -> CleanReport:
    """Remove labelled containers (paused ones included), then networks, then volumes."""
    report = CleanReport()
    flt = labels.run_filter()
    for c in client.containers.list(all=True, filters=flt):
        report.containers.append(c.name)
        if not dry_run:
            _attempt(report, f"container {c.name}", functools.partial(c.remove, force=True, v=True))
    for n in client.networks.list(filters=flt):
        report.networks.append(n.name)
        if not dry_run:
            _attempt(report, f"network {n.name}", n.remove)
    for v in client.volumes.list(filters=flt):
        report.volumes.append(v.name)
        if not dry_run:
            _attempt(report, f"volume {v.name}", functools.partial(v.remove, force=True))
    verb = "would remove" if dry_run else "removed"
    log(f"{verb} {len(report.containers)} containers, {len(report.networks)} networks, "
        f"{len(report.volumes)} volumes")
    for err in report.errors:
        log(f"  could not remove {err}")
    return report


def _attempt(report: CleanReport, what: str, action: Callable[[], object]) -> None:
    try:
        action()
    except NotFound:
        pass
    except APIError as exc:
        report.errors.append(f"{what}: {exc.explanation or exc}")
