"""Label keys every resource of ours carries, so cleanup never touches anything unlabeled."""

from __future__ import annotations

from collections.abc import Mapping

from drills.rundir.owner import Owner

RUN = "drills.run"          # the stack (or drill run) id; `drill clean` removes everything carrying it
STACK = "drills.stack"      # the stack name shown to users
SERVICE = "drills.service"  # e.g. pg1, api2, haproxy
ROLE = "drills.role"        # static role: etcd, postgres, api, lb, proxy, tools
KIND = "drills.kind"        # what a sidecar or helper is for (e.g. netfault)
ZONE = "drills.zone"        # the zone letter of a zoned container (drills/platform/zones.py); instruments carry none
GROUP = "drills.group"      # a service name several containers answer to: haproxy for haproxy1 and haproxy2
BUILD_HASH = "drills.build-hash"  # on images: hash of the build context, to skip unchanged rebuilds
OWNER = "drills.owner"      # pid:start:boot:host of the process that created it (drills.rundir.owner)


def run_filter(run_id: str | None = None) -> dict[str, list[str]]:
    """Docker API filter matching our resources, all of them or one run's."""
    return {"label": [f"{RUN}={run_id}" if run_id else RUN]}


def owner_label() -> dict[str, str]:
    """The label that lets `drill clean` tell a resource of a live process from a leftover even when no
    ledger knows its run; merge it into a resource's labels at creation."""
    return {OWNER: Owner.me().encode()}


def runs_of(labels: Mapping[str, str] | None) -> tuple[str, ...]:
    """The run ids a resource answers to, the one it is grouped under first: its stack (a drill's stack is
    named after its run id; the stack's own `drills.run` adds a suffix), else its `drills.run` (sidecars)."""
    labels = labels or {}
    found = (labels.get(STACK), labels.get(RUN))
    return tuple(dict.fromkeys(v for v in found if v))


def owner_of(labels: Mapping[str, str] | None) -> Owner | None:
    return Owner.decode((labels or {}).get(OWNER))
