"""Probes: every node's container state, Patroni role and load-balancer view, sampled on the same clock
as the history (wall clock, ms), at least every 500 ms, into probes.jsonl."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from docker.errors import DockerException

from drills.platform import haproxy, http, patroni
from drills.platform.inventory import StackView
from drills.rundir.writers import LineWriter

LB_HEADER = "X-LB"        # the load balancer that answered (zones >= 2: haproxy1 / haproxy2)
# The GET passes HAProxy to an API replica (/healthz: no database call); on a busy machine 0.4 s (the other probes'
# timeout) saw many answers too late, and a late answer is not "nobody holds the VIP".
LB_TIMEOUT_S = 0.9


class ProbeSampler:
    """A background thread; `latest` holds the last sample for the live console and abort conditions.

    With `client_url` (a stack whose load balancers share a virtual IP) each sample also says which LB answered
    a GET through the clients' own address (`lb_active`, from X-LB; null when none did): the VIP as the
    clients see it, asked in parallel with the other probes so a VIP nobody holds does not stretch the sample.
    The nodes' `lb` is then the view of the LB the previous sample found holding the VIP (`stats_by_lb`), the one
    the clients go through; the first LB's stats page otherwise."""

    def __init__(self, view: StackView, writer: LineWriter, haproxy_stats_url: str | None,
                 active_faults: Callable[[], tuple[list[str], list[str]]] = lambda: ([], []),
                 interval: float = 0.5, client_url: str | None = None,
                 stats_by_lb: dict[str, str] | None = None) -> None:
        self.view = view
        self.stats_by_lb = dict(stats_by_lb or {})
        self.client_url = client_url.rstrip("/") if client_url else None
        self._lb_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe-lb") if client_url else None
        self._lb_session = http.session() if client_url else None
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
        if self._thread.ident is not None:   # started
            self._thread.join(timeout=5)
        if self._lb_pool is not None:
            self._lb_pool.shutdown(wait=False)

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
        lb_answer: Future[str | None] | None = self._lb_pool.submit(self._lb_active) if self._lb_pool else None
        states = self._container_states()
        members = patroni.cluster_from_any(list(self.view.patroni_urls.values()), timeout=0.4) or []
        roles = {m.name: m for m in members}
        stats_url = self.stats_by_lb.get(self.latest.get("lb_active") or "") or self.stats_url
        lb = haproxy.server_states(stats_url, timeout=0.4) if stats_url else None
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
        if lb_answer is not None:
            try:
                sample["lb_active"] = lb_answer.result(timeout=LB_TIMEOUT_S + 0.1)
            except Exception:
                sample["lb_active"] = None
        url = self.view.patroni_urls.get(leader or "")
        if leader and url and nodes.get(leader, {}).get("container") == "running" and self._synchronous(members):
            # The same rule as the stack's health: a leader whose synchronous standby is not streaming on
            # its timeline cannot fail over (strict mode) — the report draws that window. Not asked of a
            # leader that is paused or gone: the request would only time out and stretch the sample.
            guard = patroni.protection(members, patroni.node_status(url, timeout=0.4))
            sample["sync_standby"] = guard.standby
            nodes[leader]["protected"] = guard.protected
        return sample

    def _lb_active(self) -> str | None:
        """The load balancer that answered GET /healthz through the clients' address (X-LB), or None."""
        assert self._lb_session is not None and self.client_url is not None
        try:
            # a fresh connection each time: which LB a new client reaches now, not one an old connection kept
            response = self._lb_session.get(f"{self.client_url}/healthz", timeout=LB_TIMEOUT_S,
                                            headers={"Connection": "close"})
        except Exception:   # nobody holds the VIP, or the LB is going away: no holder seen
            return None
        return response.headers.get(LB_HEADER) or None

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
