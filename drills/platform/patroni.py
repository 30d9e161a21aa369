"""Read cluster roles from Patroni's REST API (the source of truth for who is leader), and whether the
leader is protected by a synchronous standby right now."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from drills.platform import http

ROLE_NAMES = {"leader": "leader", "master": "leader", "primary": "leader", "standby_leader": "leader",
              "sync_standby": "sync_standby", "replica": "replica"}
SYNC_STATES = ("sync", "quorum")


@dataclass(frozen=True)
class Member:
    name: str
    role: str   # leader / sync_standby / replica
    state: str  # running, streaming, starting, stopped, ...
    timeline: int | None
    lag: int | None


@dataclass(frozen=True)
class Protection:
    """Whether losing the leader now would be both loss-free and followed by an automatic failover.

    `standby` is the synchronous standby that makes it so, or None; `problem` says why there is none."""

    standby: str | None
    problem: str = ""

    @property
    def protected(self) -> bool:
        return self.standby is not None


def cluster(url: str, timeout: float = 1.0) -> list[Member] | None:
    """Members as one Patroni node sees them (GET /cluster), or None when it does not answer."""
    try:
        resp = http.get(f"{url}/cluster", timeout=timeout)
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


def node_status(url: str, timeout: float = 1.0) -> dict | None:
    """One node's own view (GET /patroni): on a primary it carries `replication`, i.e. the rows of
    pg_stat_replication (application_name, state, sync_state)."""
    try:
        resp = http.get(f"{url}/patroni", timeout=timeout)
        data = resp.json()
    except (requests.RequestException, ValueError):
        return None
    return data if isinstance(data, dict) else None


def serves_as_primary(url: str | None, timeout: float = 1.0) -> bool:
    """Whether the node itself says it runs as the primary with the leader lock (`GET /primary` is 200). The
    DCS alone can still name a leader that crashed a moment ago: its member key outlives it by up to a TTL."""
    if not url:
        return False
    try:
        return http.get(f"{url}/primary", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def leaders(members: list[Member]) -> list[str]:
    return [m.name for m in members if m.role == "leader" and m.state == "running"]


def protection(members: list[Member], leader_status: dict | None) -> Protection:
    """The exact rule for "a synchronous standby protects the leader": a member that

    1. the DCS names as synchronous standby — with synchronous_mode_strict Patroni promotes only such a
       member, so without it a lost leader means no writes until it returns;
    2. the leader itself reports in pg_stat_replication as `streaming` with sync_state `sync` — so commits
       wait for it now (the DCS key can outlive a leader's crash and restart, when nothing streams yet);
    3. is on the leader's timeline — a standby still replaying the old timeline is not a copy of this one.

    Patroni's /cluster alone is not enough (measured: after a leader crash and restart it kept naming the old
    sync standby while both replicas were 16 MB behind), nor is pg_stat_replication alone (measured: the
    restarted leader streamed to a `sync` standby for ~6 s before the DCS named it).
    """
    leader = next((m for m in members if m.role == "leader" and m.state == "running"), None)
    if leader is None:
        return Protection(None, "no running leader")
    named = [m for m in members if m.role == "sync_standby"]
    if not named:
        return Protection(None, f"the DCS names no synchronous standby of {leader.name}")
    if leader_status is None:
        return Protection(None, f"leader {leader.name} does not answer GET /patroni")
    rows = leader_status.get("replication") or []
    streaming = {r.get("application_name"): r for r in rows if isinstance(r, dict)}
    leader_tl = leader_status.get("timeline", leader.timeline)
    reasons = []
    for m in named:
        row = streaming.get(m.name)
        if row is None:
            reasons.append(f"{m.name} is not connected to leader {leader.name}")
        elif row.get("state") != "streaming" or row.get("sync_state") not in SYNC_STATES:
            reasons.append(f"{m.name} is {row.get('state')}/{row.get('sync_state')} on leader {leader.name}")
        elif m.timeline is not None and leader_tl is not None and m.timeline != leader_tl:
            reasons.append(f"{m.name} is on timeline {m.timeline}, leader {leader.name} on {leader_tl}")
        else:
            return Protection(m.name)
    return Protection(None, "no synchronous standby streaming: " + "; ".join(reasons))


def leader_protection(members: list[Member] | None, urls: dict[str, str], timeout: float = 1.0) -> Protection:
    """`protection`, asking the leader for its replication rows through its REST URL in `urls`."""
    if not members:
        return Protection(None, "no Patroni node answers")
    found = leaders(members)
    if len(found) != 1:
        return Protection(None, f"expected one Patroni leader, found {len(found)}")
    url = urls.get(found[0])
    return protection(members, node_status(url, timeout) if url else None)


def synchronous_mode(urls: list[str], timeout: float = 1.0) -> bool | None:
    """Whether the cluster runs synchronous replication (GET /config from any node), None if nobody answers."""
    for url in urls:
        try:
            data = http.get(f"{url}/config", timeout=timeout).json()
        except (requests.RequestException, ValueError):
            continue
        if isinstance(data, dict):
            return bool(data.get("synchronous_mode"))
    return None
