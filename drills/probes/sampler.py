"""Probes: every node's container state, Patroni role and load-balancer view, sampled on the same clock
as the history (wall clock, ms), at least every 500 ms, into probes.jsonl."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from docker.errors import DockerException

from drills.platform import haproxy, patroni
from drills.platform.inventory import StackView
from drills.rundir.writers import LineWriter


class ProbeSampler:
    """A background thread; `latest` holds the last sample for the live console and abort conditions."""

    def __init__(self, view: StackView, writer: LineWriter, haproxy_stats_url: str | None,
                 active_faults: Callable[[], tuple[list[str], list[str]]] = lambda: ([], []),
                 interval: float = 0.5) -> None:
        self.view = view
        self.writer = writer
        self.stats_url = haproxy_stats_url
        self.active_faults = active_faults
        self.interval = interval
        self.latest: dict = {}
        self._sync_mode: bool | None = None   # asked once from Patroni's /config, when a node first answers
        self._sync_asked_at = -1e9
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="probes", daemon=True)

    def start(self) -> ProbeSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                sample = self.sample()
                self.latest = sample
                self.writer.write(sample)
            except Exception as exc:  # a probe must never take the drill down
                self.writer.write({"t": round(time.time(), 3), "error": f"{exc.__class__.__name__}: {exc}"})
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def sample(self) -> dict:
        t = round(time.time(), 3)
        states = self._container_states()
        members = patroni.cluster_from_any(list(self.view.patroni_urls.values()), timeout=0.4) or []
        roles = {m.name: m for m in members}
        lb = haproxy.server_states(self.stats_url, timeout=0.4) if self.stats_url else None
        faults, cut_off = self.active_faults()
        nodes = {}
        for service, node in self.view.nodes.items():
            entry: dict = {"container": states.get(node.container_id, "missing"), "role": node.role}
            if service in roles:
                m = roles[service]
                entry.update(role=m.role, patroni_state=m.state, timeline=m.timeline)
            elif node.role == "postgres":
                entry["role"] = "unknown"
            if lb is not None:
                backend = {"postgres": "postgres", "api": "api"}.get(node.role)
                entry["lb"] = lb.get((backend, service)) if backend else None
            nodes[service] = entry
        leaders = patroni.leaders(members)
        leader = leaders[0] if len(leaders) == 1 else None
        sample = {"t": t, "leader": leader, "nodes": nodes, "cut_off": cut_off, "faults_active": faults}
        url = self.view.patroni_urls.get(leader or "")
        if leader and url and nodes.get(leader, {}).get("container") == "running" and self._synchronous(members):
            # The same rule as the stack's health: a leader whose synchronous standby is not streaming on
            # its timeline cannot fail over (strict mode) — the report draws that window. Not asked of a
            # leader that is paused or gone: the request would only time out and stretch the sample.
            guard = patroni.protection(members, patroni.node_status(url, timeout=0.4))
            sample["sync_standby"] = guard.standby
            nodes[leader]["protected"] = guard.protected
        return sample

    def _synchronous(self, members: list) -> bool:
        """Asked of Patroni's /config once it answers, and at most every 5 s until then."""
        if self._sync_mode is None and members and time.monotonic() >= self._sync_asked_at + 5.0:
            self._sync_asked_at = time.monotonic()
            self._sync_mode = patroni.synchronous_mode(list(self.view.patroni_urls.values()), timeout=0.4)
        return bool(self._sync_mode)

    def _container_states(self) -> dict[str, str]:
        try:
            flt = {"label": self.view.label_filter} if self.view.label_filter else {}
            found = self.view.client.containers.list(all=True, filters=flt, sparse=True) if flt else []
            states = {c.id: (c.attrs.get("State") or "unknown") for c in found}
            for node in self.view.nodes.values():
                if node.container_id not in states:
                    try:
                        states[node.container_id] = self.view.client.containers.get(node.container_id).status
                    except DockerException:
                        states[node.container_id] = "missing"
            return states
        except DockerException:
            return {}
