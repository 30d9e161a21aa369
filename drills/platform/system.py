"""The system under test, behind one interface: the reference stack a drill starts, or the user's own
running containers it attaches to. The runner never asks which one it has (ARCHITECTURE: "a system").

A new kind of system (a compose project, a Kubernetes namespace) is one more class here: how to come up or
attach, its endpoints and nodes, when it has recovered, how its final state is read, what to record after
the run and how to tear down.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import docker

from drills.errors import InfrastructureError, PreconditionFailed
from drills.platform import backups
from drills.platform.attach_preflight import check_attachable
from drills.platform.images import STACK_IMAGES, image_tag
from drills.platform.inventory import StackView, port_of
from drills.platform.readiness import NotReady, checks_for, hint_for, wait_ready
from drills.platform.stack import Stack, audit_api_url
from drills.platform.stack_spec import StackOptions, lb_names
from drills.rundir import files
from drills.scenario.audit_section import AuditSection
from drills.scenario.model import AttachedStack, ReferenceStack, StackSection

Log = Callable[[str], None]


class System(ABC):
    """What a drill needs of the system under test."""

    endpoints: dict
    view: StackView

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.endpoints = {}

    @abstractmethod
    def start(self, log: Log) -> dict:
        """Come up (or attach) and be ready for load; returns what meta.json records about the system."""

    @abstractmethod
    def wait_recovered(self, timeout: float) -> None:
        """Return once the system serves normally again after the faults; raise when it does not in time."""

    def stack(self) -> Stack | None:
        """The reference stack the faults' disasters and restores act on (None: the system has none)."""
        return None

    def prestarts_sidecars(self) -> bool:
        """Whether network-fault sidecars are started for every node before the load (the reference stack's
        own containers); a user's containers get one only when a fault needs it."""
        return False

    def serves_writes(self) -> bool:
        """Whether a database leader serves right now (asked when a restore failed: is there anything to wait
        for?). A system that cannot tell says True, and the recovery wait decides."""
        return True

    def versions(self) -> dict[str, str]:
        return {}

    def read_final_state(self, run_dir: Path) -> None:
        """Read the truth back after recovery into final-state.json (the reference API's audit endpoints)."""
        from drills.platform.ticketing import TicketingClient
        from drills.platform.ticketing_audit import collect

        collect(TicketingClient(audit_api_url(self.endpoints), timeout=30), run_dir)

    def after_run(self, run_dir: Path) -> None:  # noqa: B027 - a hook: most systems record nothing
        """Record what only exists while the system does (before teardown)."""

    def teardown(self, keep: bool, log: Log) -> bool:
        """Remove what the drill started unless `keep`; True when something was removed."""
        return False


class ReferenceSystem(System):
    """The reference HA stack, started for this drill and removed after it."""

    def __init__(self, client: docker.DockerClient, ref: ReferenceStack, run_id: str) -> None:
        super().__init__(client)
        self.ref = ref
        self.opts = options_for(ref, re.sub(r"[^a-z0-9-]+", "-", run_id)[:40].strip("-") or "drill")
        self._stack = Stack(client, self.opts.name)
        self._toxiproxy_version: str | None = None

    def start(self, log: Log) -> dict:
        log(f"starting the reference stack {self.opts.name!r} ...")
        status = self._stack.up(self.opts, log=log)
        self.endpoints = status.endpoints
        self._toxiproxy_version = status.toxiproxy_version
        self.view = StackView.of_reference_stack(self.client, self.opts.name, self.endpoints)
        return {"name": self.opts.name, "options": asdict(self.opts), "endpoints": self.endpoints,
                "images": self._image_ids(), "images_stale": self._stack.stale_images}

    def wait_recovered(self, timeout: float) -> None:
        self._stack.wait_healthy(timeout=timeout, log=lambda _m: None)

    def stack(self) -> Stack:
        return self._stack

    def prestarts_sidecars(self) -> bool:
        return True

    def serves_writes(self) -> bool:
        try:
            return self._stack.status(quick=True).leader() is not None
        except Exception:
            return False

    def versions(self) -> dict[str, str]:
        versions = {"toxiproxy": self._toxiproxy_version or "?"}
        try:
            versions["docker"] = self.client.version().get("Version", "?")
        except Exception:
            pass
        for svc, cmd in (("pg1", ["patroni", "--version"]), (lb_names(self.opts)[0], ["haproxy", "-v"]),
                         ("etcd1", ["etcd", "--version"])):
            try:
                c = self.client.containers.get(f"drills-{self._stack.name}-{svc}")
                out = c.exec_run(cmd)[1].decode(errors="replace").strip().splitlines()
                versions[cmd[0]] = out[0][:80] if out else "?"
            except Exception:
                pass
        return versions

    def after_run(self, run_dir: Path) -> None:
        """backups.json: the repository's catalogue after the run (the report lists every backup set)."""
        if not self.ref.backups:
            return
        doc: dict = {"stanza": "drills", "catalogue": [], "error": None}
        try:
            doc["catalogue"] = [s.to_dict() for s in backups.catalogue(self._stack)]
        except Exception as exc:
            doc["error"] = getattr(exc, "message", None) or str(exc)
        (run_dir / files.BACKUPS).write_text(json.dumps(doc, indent=1))

    def teardown(self, keep: bool, log: Log) -> bool:
        if keep or self.ref.keep:
            log(f"stack kept: `drill stack status --name {self._stack.name}`")
            return False
        self._stack.down(log=lambda _m: None)
        return True

    def _image_ids(self) -> dict[str, str]:
        out = {}
        for key in STACK_IMAGES:
            try:
                out[image_tag(key)] = self.client.images.get(image_tag(key)).id
            except Exception:
                pass
        return out


class AttachedSystem(System):
    """The user's own running system: nothing is started or removed; only the containers the scenario names
    (or its compose project or label selector finds) are ever touched, and every URL is a loopback one
    (validated). Everything it names is checked before any fault (drills/platform/attach_preflight.py)."""

    def __init__(self, client: docker.DockerClient, at: AttachedStack, audit: AuditSection | None = None) -> None:
        super().__init__(client)
        self.at = at
        self.audit = audit   # the scenario's declared audit; None: the reference API's audit endpoints
        self.view = StackView(client, patroni_urls=dict(at.patroni_urls), toxiproxy_url=at.toxiproxy_url,
                              label_filter=at.label_selector, names=dict(at.containers), roles=dict(at.roles),
                              compose_project=at.compose_project, role_probes=dict(at.role_probes),
                              entry_ports=port_of(at.api_url), whole_networks=True)

    def start(self, log: Log) -> dict:
        at = self.at
        self.endpoints = {"api": at.api_url, "patroni": dict(at.patroni_urls)}
        if at.toxiproxy_url:
            self.endpoints["toxiproxy"] = at.toxiproxy_url
        check_attachable(self.view, at, log)
        self._check_audit(log)
        nodes = {k: {"container": n.container_name, "service": n.group or k, "role": n.role}
                 for k, n in sorted(self.view.nodes.items())}
        return {"attached": asdict(at), "nodes": nodes,
                "ready": [c.name for c in checks_for(at, self.view)] + [f"for {at.ready.hold:g}s"]}

    def wait_recovered(self, timeout: float) -> None:
        """Every readiness check (stack.attach.ready; default GET api_url/readyz == 200) holds for `for`."""
        try:
            wait_ready(checks_for(self.at, self.view), timeout, self.at.ready.hold, default_hint=hint_for(self.at))
        except NotReady as exc:
            raise InfrastructureError(exc.message, hint=exc.hint) from None

    def _check_audit(self, log: Log) -> None:
        """The declared audit's final read, asked once before any fault: a source that does not answer (a 404,
        a wrong password, an unset ${NAME}) refuses the drill now instead of leaving every data-loss budget
        unknown after it."""
        if self.audit is None:
            log("no `audit` section: the final read asks the reference API's /audit endpoints")
            return
        from drills.platform.final_read import check_reads

        problems = check_reads(self.audit, self.at.api_url)
        if problems:
            raise PreconditionFailed("the audit's final read does not answer: " + "; ".join(problems),
                                     hint="fix audit.read in the scenario (docs/scenario-format.md#audit), or "
                                          "set the environment variables it names")
        log(f"audit: {len(self.audit.reads)} collection(s) answer")

    def read_final_state(self, run_dir: Path) -> None:
        """The declared audit's collections (drills/platform/final_read.py); without `audit:`, the reference
        API's audit endpoints, whose failure says how to declare an audit instead."""
        if self.audit is not None:
            from drills.platform.final_read import collect

            collect(self.audit, self.at.api_url, run_dir)
            return
        from drills.checks.finalstate import write_final_state
        from drills.platform.ticketing import TicketingClient
        from drills.platform.ticketing_audit import collect as collect_reference

        state = collect_reference(TicketingClient(audit_api_url(self.endpoints), timeout=30), run_dir)
        if not state.complete:
            state.errors.append("the scenario declares no `audit`, so the final read asked the reference "
                                "ticketing API's /audit endpoints; declare how to read your system back "
                                "(docs/scenario-format.md#audit)")
            write_final_state(run_dir, state)


def options_for(ref: ReferenceStack, name: str) -> StackOptions:
    """The reference stack's options from a scenario's `stack.reference` section."""
    return StackOptions(name=name, api_replicas=ref.api_replicas, zones=ref.zones,
                        async_replication=ref.async_replication,
                        hot_event_seats=ref.hot_event_seats, cold_events=ref.cold_events,
                        cold_event_seats=ref.cold_event_seats, maximum_lag_on_failover=ref.maximum_lag_on_failover,
                        backups=ref.backups, backup_interval_s=int(ref.backup_interval),
                        backup_type=ref.backup_type, backup_retention_full=ref.backup_retention_full,
                        archive_timeout_s=int(ref.archive_timeout), zero_rpo_backups=ref.zero_rpo_backups,
                        monitoring=ref.monitoring,
                        extra_rules=dict(ref.alert_rules))


def system_for(section: StackSection, client: docker.DockerClient, run_id: str,
               audit: AuditSection | None = None) -> System:
    """The system a scenario's `stack` section describes (and, attached, the audit it declares)."""
    if isinstance(section, AttachedStack):
        return AttachedSystem(client, section, audit)
    return ReferenceSystem(client, section, run_id)
