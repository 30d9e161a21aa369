"""`drill clean`: remove resources carrying the drills.run label — of dead runs only — and nothing else.

Which runs it may touch is a `Scope`: a run whose owner (from the state directory, or a resource's
`drills.owner` label) still runs is never touched; by default only runs whose owner is known to be gone; with
`--run ID` that one run; with `--all` also runs nobody recorded (their owner is unknown: kept stacks of
earlier versions, `drill stack up` stacks, runs recorded in another state directory).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.errors import APIError, NotFound

from drills.platform import labels
from drills.rundir.owner import Owner

NOT_SELECTED = ""  # a reason to spare a run that is not worth a line (another run than --run names)


@dataclass
class Scope:
    """Which runs `drill clean` may touch (see the module docstring)."""

    owners: Mapping[str, Owner | None]     # runs the state directory knows -> their owner (None: not recorded)
    only: str | None = None                # --run ID
    orphans: bool = False                  # --all

    def spare(self, runs: tuple[str, ...], label_owner: Owner | None = None) -> tuple[str, str | None]:
        """(the run, None) when it may be cleaned, else (the run, why not, in words)."""
        run = runs[0] if runs else "?"
        if self.only is not None:
            if self.only not in runs:
                return run, NOT_SELECTED
            run = self.only
        owners = [o for o in (self.owners.get(run), label_owner) if o is not None]
        live = next((o for o in owners if o.alive()), None)
        if live is not None:
            state = "still running" if live.here else "maybe still running"
            return run, f"{state} ({live.describe()}): `drill clean` never touches a live drill"
        if owners or self.only is not None or self.orphans:
            return run, None
        return run, ("owner not recorded (a `drill stack up` stack, an older version's run, or a run of another "
                     "state directory): `--all` or `--run` cleans it")


@dataclass
class CleanReport:
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cleaned: set[str] = field(default_factory=set)          # runs whose resources were (or would be) removed
    spared: dict[str, str] = field(default_factory=dict)    # run -> why its resources were left alone

    @property
    def total(self) -> int:
        return len(self.containers) + len(self.networks) + len(self.volumes)


def clean(client: docker.DockerClient, scope: Scope | None = None, dry_run: bool = False,
          log: Callable[[str], None] = print) -> CleanReport:
    """Remove the labelled containers (paused ones included), then networks, then volumes, of the runs
    `scope` allows (default: every run whose owner is known to be gone)."""
    scope = scope or Scope({})
    report = CleanReport()
    flt = labels.run_filter()
    containers = client.containers.list(all=True, filters=flt)
    owners = _label_owners([c.labels for c in containers])
    kinds: list[tuple[str, list[str], list, Callable[[Any], object]]] = [
        ("container", report.containers, containers, lambda c: c.remove(force=True, v=True)),
        ("network", report.networks, client.networks.list(filters=flt), lambda n: n.remove()),
        ("volume", report.volumes, client.volumes.list(filters=flt), lambda v: v.remove(force=True)),
    ]
    for kind, names, found, remove in kinds:
        for item in found:
            runs = labels.runs_of(_labels(item))
            run, why = scope.spare(runs, next((owners[r] for r in runs if r in owners), None))
            if why is not None:
                if why:
                    report.spared[run] = why
                continue
            report.cleaned.add(run)
            names.append(item.name)
            if not dry_run:
                _attempt(report, f"{kind} {item.name}", functools.partial(remove, item))
    _log_report(report, dry_run, log)
    return report


def _labels(item: object) -> Mapping[str, str] | None:
    """A container's labels, or a network's or volume's (those keep them in `attrs` only)."""
    found = getattr(item, "labels", None)
    return found if isinstance(found, Mapping) else (getattr(item, "attrs", None) or {}).get("Labels")


def _label_owners(all_labels: list[Mapping[str, str] | None]) -> dict[str, Owner]:
    """run -> owner, from the `drills.owner` label of any container of that run."""
    owners: dict[str, Owner] = {}
    for lbls in all_labels:
        found = labels.owner_of(lbls)
        if found is not None:
            for run in labels.runs_of(lbls):
                owners.setdefault(run, found)
    return owners


def _log_report(report: CleanReport, dry_run: bool, log: Callable[[str], None]) -> None:
    verb = "would remove" if dry_run else "removed"
    runs = f" of {', '.join(sorted(report.cleaned))}" if report.cleaned else ""
    log(f"{verb} {len(report.containers)} containers, {len(report.networks)} networks, "
        f"{len(report.volumes)} volumes{runs}")
    if dry_run:
        for kind, names in (("container", report.containers), ("network", report.networks),
                            ("volume", report.volumes)):
            for name in names:
                log(f"  would remove {kind} {name}")
    for run, why in sorted(report.spared.items()):
        log(f"left alone: {run}: {why}")
    for err in report.errors:
        log(f"  could not remove {err}")


def _attempt(report: CleanReport, what: str, action: Callable[[], object]) -> None:
    try:
        action()
    except NotFound:
        pass
    except APIError as exc:
        report.errors.append(f"{what}: {exc.explanation or exc}")
