"""Read cluster roles from Patroni's REST API (the source of truth for who is leader)."""

from __future__ import annotations

from dataclasses import dataclass

import requests

ROLE_NAMES = {"leader": "leader", "master": "leader", "primary": "leader", "standby_leader": "leader",
              "sync_standby": "sync_standby", "replica": "replica"}


@dataclass(frozen=True)
class Member:
    name: str
    role: str   # leader / sync_standby / replica
    state: str  # running, streaming, starting, stopped, ...
    timeline: int | None
    lag: int | None


def cluster(url: str, timeout: float = 1.0) -> list[Member] | None:
    """Members as one Patroni node sees them (GET /cluster), or None when it does not answer."""
    try:
        resp = requests.get(f"{url}/cluster", timeout=timeout)
        resp.raise_for_status()
        data = resp.json()
    except (requests.RequestException, ValueError):
        return None
    members = []
    for m in data.get("members", []):
        lag = m.get("lag")
        members.append(Member(
            name=m.get("name", "?"),
            role=ROLE_NAMES.get(m.get("role", ""), m.get("role", "unknown")),
            state=m.get("state", "unknown"),
            timeline=m.get("timeline"),
            lag=lag if isinstance(lag, int) else None,
        ))
    return members


def cluster_from_any(urls: list[str], timeout: float = 1.0) -> list[Member] | None:
    """The first answer among several nodes: any live node knows the whole cluster from the DCS."""
    for url in urls:
        members = cluster(url, timeout)
        if members:
            return members
    return None


def leaders(members: list[Member]) -> list[str]:
    return [m.name for m in members if m.role == "leader" and m.state == "running"]


def sync_standbys(members: list[Member]) -> list[str]:
    return [m.name for m in members if m.role == "sync_standby" and m.state in ("running", "streaming")]
