"""Label keys every resource of ours carries, so cleanup never touches anything unlabeled."""

from __future__ import annotations

RUN = "drills.run"          # the stack (or drill run) id; `drill clean` removes everything carrying it
STACK = "drills.stack"      # the stack name shown to users
SERVICE = "drills.service"  # e.g. pg1, api2, haproxy
ROLE = "drills.role"        # static role: etcd, postgres, api, lb, proxy, tools
KIND = "drills.kind"        # what a sidecar or helper is for (e.g. netfault)
BUILD_HASH = "drills.build-hash"  # on images: hash of the build context, to skip unchanged rebuilds


def run_filter(run_id: str | None = None) -> dict[str, list[str]]:
    """Docker API filter matching our resources, all of them or one run's."""
    return {"label": [f"{RUN}={run_id}" if run_id else RUN]}
