"""Lifecycle of the reference stack: up (and wait until healthy), status, down.

A stack is found again only through its labels, so the CLI is stateless: `drill stack status` in another
shell sees the same stack. The options it was started with are kept as a label on its network, and so are
its credentials (random per stack, StackCredentials): visible to whoever can inspect the engine's containers
anyway (they are in the containers' environment), never in an image, a config file, meta.json or a status.
"""

from __future__ import annotations

import io
import json
import secrets
import socket
import tarfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import docker
import requests
from docker.errors import APIError, ImageNotFound, NotFound
from docker.types import EndpointConfig, IPAMConfig, IPAMPool

from drills.errors import StackError
from drills.platform import alert_watch, backups, haproxy, http, labels, monitoring, patroni, walstream, zones
from drills.platform.images import TOXIPROXY_VERSION, stale_images
from drills.platform.stack_spec import (
    APP_DB,
    APP_USER,
    WALSTREAM,
    ServiceSpec,
    StackCredentials,
    StackOptions,
    api_names,
    db_names,
    lb_names,
    services,
    toxiproxy_proxies,
)
from drills.platform.ticketing import derive_audit_token, remember_audit_token
from drills.platform.toxiproxy import ToxiproxyClient

Log = Callable[[str], None]
OPTIONS_LABEL = "drills.options"
CREDENTIALS_LABEL = "drills.credentials"
# Problems status() reports and _revive_hung_members() acts on (one wording for both)
NOT_A_MEMBER = "{} is not a member of the Patroni cluster yet"
NO_PATRONI = "no Patroni node answers"
HUNG_MEMBER_S = 60.0   # bring-up: a node not a member this long while the others answer is restarted once


def network_name(stack: str) -> str:
    return f"drills-{stack}"


def container_name(stack: str, service: str) -> str:
    return f"drills-{stack}-{service}"


@dataclass
class ServiceStatus:
    service: str
    container: str
    id: str
    role: str          # leader / sync_standby / replica / api / lb / proxy / etcd
    state: str         # container state: running, paused, exited, ...
    health: str        # healthy / unhealthy / unknown
    detail: str = ""
    zone: str = ""     # labels.ZONE ("" for the zoneless instruments)


@dataclass
class StackStatus:
    name: str
    run_id: str
    options: dict
    services: list[ServiceStatus] = field(default_factory=list)
    endpoints: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    toxiproxy_version: str | None = None
    vip: str | None = None                              # zones >= 2: the clients' address
    vip_holders: list[str] = field(default_factory=list)  # the LBs that have it now (one when healthy)

    @property
    def healthy(self) -> bool:
        return not self.problems and bool(self.services)

    def leader(self) -> str | None:
        found = [s.service for s in self.services if s.role == "leader"]
        return found[0] if len(found) == 1 else None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["healthy"] = self.healthy
        data["leader"] = self.leader()
        data["lb_active"] = self.vip_holders[0] if len(self.vip_holders) == 1 else None
        return data


class Stack:
    """One named reference stack on a Docker engine."""

    def __init__(self, client: docker.DockerClient, name: str = "default") -> None:
        self.client = client
        self.name = name
        self.stale_images: dict[str, str] = {}   # tag -> why, found by up(): see images.stale_images

    # ---- discovery -------------------------------------------------------------------------------
    def containers(self) -> dict[str, docker.models.containers.Container]:
        found = self.client.containers.list(all=True, filters={"label": f"{labels.STACK}={self.name}"})
        return {c.labels.get(labels.SERVICE, c.name): c for c in found}

    def network(self) -> docker.models.networks.Network | None:
        nets = self.client.networks.list(filters={"label": f"{labels.STACK}={self.name}"})
        return nets[0] if nets else None

    def exists(self) -> bool:
        return bool(self.containers()) or self.network() is not None

    def options(self) -> StackOptions:
        net = self.network()
        raw = (net.attrs.get("Labels") or {}).get(OPTIONS_LABEL) if net else None
        if not raw:
            return StackOptions(name=self.name, zones=1)
        # A stack started before monitoring (or zones) existed has none, whatever today's default is.
        return StackOptions(**{"monitoring": False, "zones": 1, **json.loads(raw)})

    def addresses(self) -> zones.LbAddresses | None:
        """The VIP and the load balancers' fixed addresses (None: a one-zone stack, no VIP)."""
        net = self.network()
        return zones.addresses_of_network(net.attrs if net else None, lb_names(self.options())) if net else None

    def monitoring_endpoints(self) -> alert_watch.MonitoringEndpoints | None:
        """Prometheus, Alertmanager and the alert receiver as published on 127.0.0.1 (None: no monitoring)."""
        return alert_watch.MonitoringEndpoints.of_stack(_endpoints(self.containers()))

    def patroni_urls(self, containers: dict | None = None) -> dict[str, str]:
        """service -> Patroni REST URL of each database node (of `containers`, default all), as published."""
        return _endpoints(self.containers() if containers is None else containers)["patroni"]

    def run_id(self) -> str:
        net = self.network()
        return (net.attrs.get("Labels") or {}).get(labels.RUN, "") if net else ""

    def credentials(self) -> StackCredentials | None:
        """The stack's passwords and audit token (None: no such stack, or one made before they existed)."""
        net = self.network()
        return StackCredentials.decode((net.attrs.get("Labels") or {}).get(CREDENTIALS_LABEL)) if net else None

    def audit_token(self) -> str | None:
        """What the API's audit endpoints want (TicketingClient(..., audit_token=...))."""
        creds = self.credentials()
        return creds.audit_token if creds else None

    # ---- up / down -------------------------------------------------------------------------------
    def up(self, opts: StackOptions, log: Log = print, timeout: float = 180.0,
           audit_secret: str | None = None) -> StackStatus:
        """Start every service and wait until the stack is healthy; on failure leave nothing running.

        The API's audit token is derived from `audit_secret` (a drill passes its run secret), else from a
        fresh random one; the database passwords are always fresh and random."""
        problems = opts.validate()
        if problems:
            raise StackError("invalid stack options: " + "; ".join(problems))
        if self.exists():
            status = self.status()
            if status.healthy:
                log(f"stack {self.name!r} is already up and healthy")
                return status
            raise StackError(
                f"stack {self.name!r} already exists but is not healthy: " + "; ".join(status.problems[:5]),
                hint=f"`drill stack down --name {self.name}` removes it",
            )
        self._check_images(opts)
        self.stale_images = stale_images(self.client)
        for tag, why in sorted(self.stale_images.items()):
            log(f"warning: {tag} is stale: {why}; it runs as it is (`drill images build` rebuilds it)")
        run_id = f"{self.name}-{secrets.token_hex(3)}"
        creds = StackCredentials.generate(derive_audit_token(audit_secret or secrets.token_hex(32)))
        t0 = time.monotonic()
        try:
            self._create(opts, run_id, creds)
            log(f"containers started in {time.monotonic() - t0:.1f}s; waiting for the stack to be healthy ...")
            status = self.wait_healthy(timeout=timeout, log=log, revive_hung=True)
            if opts.backups:
                t1 = time.monotonic()
                backups.first_backup(self)
                log(f"first full backup taken in {time.monotonic() - t1:.1f}s")
            if opts.monitoring:
                settle_alerts(status, log)
        except BaseException as exc:
            details = self._failure_logs() if not getattr(exc, "details", None) else ""
            self.down(log=lambda _m: None)
            if isinstance(exc, StackError):
                exc.details = "\n".join(filter(None, [exc.details, details]))
                raise
            if isinstance(exc, APIError):
                raise StackError(f"starting stack {self.name!r} failed: {_explain_api_error(exc)}",
                                 details=details) from None
            raise
        log(f"stack {self.name!r} healthy after {time.monotonic() - t0:.1f}s")
        return status

    def down(self, log: Log = print) -> int:
        """Remove the stack's containers, network and volumes. Returns how many resources were removed."""
        removed = 0
        for c in self.containers().values():
            try:
                c.remove(force=True, v=True)
                removed += 1
            except NotFound:
                pass
        for net in self.client.networks.list(filters={"label": f"{labels.STACK}={self.name}"}):
            try:
                net.remove()
                removed += 1
            except NotFound:
                pass
        for vol in self.client.volumes.list(filters={"label": f"{labels.STACK}={self.name}"}):
            try:
                vol.remove(force=True)
                removed += 1
            except NotFound:
                pass
        log(f"stack {self.name!r}: removed {removed} resources")
        return removed

    def _check_images(self, opts: StackOptions) -> None:
        missing = []
        for spec in services(opts, "check"):
            try:
                self.client.images.get(spec.image)
            except ImageNotFound:
                missing.append(spec.image)
        if missing:
            raise StackError(f"images missing: {', '.join(sorted(set(missing)))}",
                             hint="run `make setup` (or `drill images build`) first")

    def _create(self, opts: StackOptions, run_id: str, creds: StackCredentials) -> None:
        base_labels = {labels.RUN: run_id, labels.STACK: self.name}
        net = network_name(self.name)
        net_labels = {**base_labels, OPTIONS_LABEL: json.dumps(asdict(opts), sort_keys=True),
                      CREDENTIALS_LABEL: creds.encode()}
        addrs = self._create_vip_network(net, net_labels, opts) if zones.has_vip(opts.zones) else None
        if addrs is None:
            self.client.networks.create(net, driver="bridge", labels=net_labels)
        for spec in services(opts, run_id, addrs):
            self._start_service(spec, run_id, net, creds)

    def _create_vip_network(self, net: str, net_labels: dict, opts: StackOptions) -> zones.LbAddresses:
        """The stack's network with a subnet Docker chose as free, re-made with Docker's allocation confined to its
        lower half (ip_range), so the VIP and the LBs' fixed addresses at the top are never handed to a container.
        Another process may take the subnet between the two steps: then ask again."""
        for attempt in range(5):
            probe = self.client.networks.create(net, driver="bridge", labels=net_labels)
            try:
                probe.reload()
                subnet = next(c["Subnet"] for c in probe.attrs["IPAM"]["Config"] if ":" not in c.get("Subnet", ":"))
            finally:
                probe.remove()
            addrs = zones.plan_addresses(subnet, lb_names(opts))
            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=addrs.subnet, iprange=addrs.ip_range,
                                                     gateway=addrs.gateway)])
            try:
                self.client.networks.create(net, driver="bridge", labels=net_labels, ipam=ipam)
                return addrs
            except APIError as exc:
                if "overlap" not in str(exc).lower() or attempt == 4:
                    raise
        raise StackError(f"no free subnet for stack {self.name!r}")

    def start_service(self, spec: ServiceSpec, run_id: str | None = None) -> None:
        """Create and start one service on the running stack's network (a restore re-creates nodes so), with
        the stack's own credentials."""
        creds = self.credentials()
        if creds is None:
            raise StackError(f"stack {self.name!r} has no credentials label (made by an older drills)",
                             hint=f"recreate it: `drill stack down --name {self.name}`, then up")
        self._start_service(spec, run_id or self.run_id(), network_name(self.name), creds)

    def _start_service(self, spec: ServiceSpec, run_id: str, net: str, creds: StackCredentials) -> None:
        volumes = {}
        if spec.volume_path:
            vol = self.client.volumes.create(
                name=f"{container_name(self.name, spec.service)}-data",
                labels=spec.labels(run_id, self.name),
            )
            volumes[vol.name] = {"bind": spec.volume_path, "mode": "rw"}
        for suffix, path in spec.shared_volumes.items():
            name = f"drills-{self.name}-{suffix}"
            try:
                self.client.volumes.get(name)
            except NotFound:
                self.client.volumes.create(name=name, labels={labels.RUN: run_id, labels.STACK: self.name})
            volumes[name] = {"bind": path, "mode": "ro" if suffix in spec.read_only_volumes else "rw"}
        for attempt in range(3):
            container = self.client.containers.create(
                spec.image,
                command=spec.command,
                name=container_name(self.name, spec.service),
                hostname=spec.service,
                labels=spec.labels(run_id, self.name),
                environment={**spec.environment, **creds.environment(spec.role)},
                user=spec.user,
                # Host ports are chosen here, not by Docker: a port Docker picks is picked again on every
                # restart, so a restarted HAProxy or Patroni node would move and every client would lose it.
                ports={p: ("127.0.0.1", h or _free_port()) for p, h in spec.ports.items()},
                volumes=volumes,
                network=net,
                networking_config={net: EndpointConfig(version=self.client.api._version, aliases=[spec.service],
                                                       ipv4_address=spec.ipv4_address)},
                cap_add=list(spec.cap_add) or None,
                detach=True,
            )
            if spec.files:
                container.put_archive("/", _tar_files(spec.files))
            try:
                container.start()
                return
            except APIError as exc:
                chosen_by_us = all(h is None for h in spec.ports.values())
                if "already allocated" in str(exc) and chosen_by_us and attempt < 2:
                    container.remove(force=True)  # another process took the free port meanwhile: pick again
                    continue
                raise StackError(f"{spec.service}: cannot start: {_explain_api_error(exc)}") from None

    # ---- health ----------------------------------------------------------------------------------
    def wait_healthy(self, timeout: float = 180.0, log: Log = print, poll: float = 0.5,
                     revive_hung: bool = False) -> StackStatus:
        """Poll until healthy; on timeout raise with the problems and the logs of the services involved. The polls
        are quick; with a VIP the last one is the full status, which asks each LB whether it holds the VIP (a
        split brain looks healthy from the clients' side). `revive_hung` (bring-up only, never inside a drill):
        see _revive_hung_members()."""
        deadline = time.monotonic() + timeout
        last_report = 0.0
        absent: dict[str, float] = {}      # postgres service -> when it was first seen not a member
        revived: set[str] = set()
        status = self.status(quick=True)
        if status.healthy and status.vip:
            status = self.status()
        while not status.healthy:
            now = time.monotonic()
            if revive_hung:
                self._revive_hung_members(status, absent, revived, log)
            if now > deadline:
                raise StackError(
                    f"stack {self.name!r} not healthy after {timeout:.0f}s: " + "; ".join(status.problems[:6]),
                    hint="see the service logs below; `drill stack status` shows each service",
                    details=self._logs_for_problems(status),
                )
            if now - last_report > 10:
                log("  waiting: " + "; ".join(status.problems[:3]))
                last_report = now
            time.sleep(poll)
            status = self.status(quick=True)
            if status.healthy and status.vip:
                status = self.status()
        return status if status.vip else self.status()

    def _revive_hung_members(self, status: StackStatus, absent: dict[str, float], revived: set[str],
                             log: Log) -> None:
        """A node whose Patroni has not been a member for HUNG_MEMBER_S while the others answer gets one restart.

        Why: about once in fifteen fresh stacks under load, one Patroni stops renewing its member key while its
        PostgreSQL streams on, and logs nothing (cause unknown; seen with 3.0.4). Before the restart it gets
        SIGUSR2, which makes it write every thread's stack to its log (harness/images/postgres/patroni_run.py),
        and that dump is copied into our log, so the next occurrence says where the HA loop waits."""
        now = time.monotonic()
        if NO_PATRONI in status.problems:
            absent.clear()
            return
        missing = {s.service: s for s in status.services
                   if NOT_A_MEMBER.format(s.service) in status.problems}
        for service in list(absent):
            if service not in missing:
                del absent[service]
        for service, s in missing.items():
            since = absent.setdefault(service, now)
            if service in revived or now - since < HUNG_MEMBER_S or s.state != "running":
                continue
            revived.add(service)
            container = self.containers().get(service)
            if container is None:
                continue
            log(f"  {service}'s Patroni has not been a member for {now - since:.0f}s while its container runs: "
                "its thread dump follows, then one restart")
            try:
                mark = int(time.time()) - 1
                container.kill(signal="SIGUSR2")
                time.sleep(1.0)
                dump = container.logs(since=mark).decode(errors="replace")
                threads = dump[dump.find("Thread 0x"):] if "Thread 0x" in dump else "(no thread dump in its log)"
                for line in threads.splitlines()[:120]:
                    log(f"    {line}")
                container.restart(timeout=10)
            except APIError as exc:
                log(f"  could not revive {service}: {_explain_api_error(exc)}")
            absent.pop(service, None)

    def status(self, quick: bool = False) -> StackStatus:
        """Each service with its role and health, the endpoints, and what is wrong (if anything)."""
        containers = self.containers()
        opts = self.options()
        st = StackStatus(name=self.name, run_id=self.run_id(), options=asdict(opts))
        if not containers:
            st.problems.append(f"no stack named {self.name!r}")
            return st
        addrs = self.addresses() if zones.has_vip(opts.zones) else None
        st.vip = addrs.vip if addrs else None
        st.endpoints = _endpoints(containers, st.vip)
        if not quick and "api" in st.endpoints:  # clients of this API made later in this process can audit
            token = self.audit_token()
            for url in (st.endpoints["api"], *st.endpoints.get("api_direct", {}).values()):
                if token:
                    remember_audit_token(url, token)
        members = patroni.cluster_from_any(list(st.endpoints.get("patroni", {}).values()))
        # What each load balancer believes ({lb: states}; None where its stats do not answer).
        per_lb = {lb: haproxy.server_states(url) for lb, url in st.endpoints.get("haproxy_stats_all", {}).items()}
        if st.vip and quick:   # the clients' view, one HTTP request: the frequent polls (wait_healthy)
            st.vip_holders = [lb] if (lb := zones.served_by(st.vip)) else []
        elif st.vip:           # asked inside each LB: also sees a split brain
            lbs = {n: c for n, c in containers.items() if c.labels.get(labels.ROLE) == zones.LB_ROLE}
            st.vip_holders = zones.vip_holders(lbs, st.vip)
        roles = {m.name: m for m in members or []}

        for service, c in sorted(containers.items(), key=lambda kv: _order(kv[0])):
            role = c.labels.get(labels.ROLE, "?")
            s = ServiceStatus(service, c.name, c.short_id, role, c.status, "unknown",
                              zone=c.labels.get(labels.ZONE, ""))
            if c.status != "running":
                s.health = "unhealthy"
                st.problems.append(f"{service} is {c.status}")
            elif role == "postgres":
                m = roles.get(service)
                if m is None:
                    s.role, s.health = "unknown", "unhealthy"
                    st.problems.append(NOT_A_MEMBER.format(service))
                else:
                    s.role = m.role
                    s.detail = f"state={m.state} timeline={m.timeline}" + (f" lag={m.lag}" if m.lag else "")
                    s.health = "healthy" if m.state in ("running", "streaming") else "unhealthy"
                    if s.health != "healthy":
                        st.problems.append(f"{service} (patroni) is {m.state}")
            elif role == "api":
                seen = {lb: (states or {}).get(("api", service)) for lb, states in per_lb.items()}
                s.detail = " ".join(f"{lb}={state or '?'}" for lb, state in sorted(seen.items())) or "haproxy=?"
                s.health = "healthy" if seen and all(v == "UP" for v in seen.values()) else "unhealthy"
                if s.health != "healthy":
                    st.problems.append(_api_problem(service, seen))
            elif role == "lb":
                s.health = "healthy" if per_lb.get(service) is not None else "unhealthy"
                if st.vip:
                    s.detail = f"vip={st.vip}" if service in st.vip_holders else "backup"
                if s.health != "healthy":
                    st.problems.append("haproxy stats do not answer" if len(per_lb) < 2 else
                                       f"{service} stats do not answer")
            elif role == "proxy":
                st.toxiproxy_version = ToxiproxyClient(st.endpoints["toxiproxy"]).version()
                s.detail = f"version={st.toxiproxy_version}"
                s.health = "healthy" if st.toxiproxy_version == TOXIPROXY_VERSION else "unhealthy"
                if s.health != "healthy":
                    st.problems.append(f"toxiproxy /version is {st.toxiproxy_version!r}, expected {TOXIPROXY_VERSION}")
            elif role == monitoring.ROLE:
                s.health, s.detail = _monitoring_health(service, st.endpoints)
                if s.health != "healthy":
                    st.problems.append(f"{service}: {s.detail}")
            elif role == WALSTREAM:
                found = patroni.leaders(members or [])
                stream = walstream.state(self, containers.get(found[0]) if len(found) == 1 else None)
                s.health = "healthy" if stream.healthy else "unhealthy"
                s.detail = f"stream={stream.state} ({stream.detail})"
                if not stream.healthy:
                    st.problems.append(f"{service} is {stream.state}: {stream.detail} (zero-RPO: no write is "
                                       "acknowledged until it streams)")
            elif role == "etcd":
                s.health = "healthy" if members is not None else "unknown"
                if not quick:
                    s.health, s.detail = _etcd_health(c)
                    if s.health != "healthy":
                        st.problems.append(f"{service} (etcd) unhealthy: {s.detail}")
            else:
                s.health = "healthy"
            st.services.append(s)

        self._cluster_problems(st, opts, members, per_lb, containers)
        return st

    def _cluster_problems(self, st: StackStatus, opts: StackOptions, members, per_lb, containers) -> None:
        expected = {"etcd": opts.etcd_nodes, "postgres": opts.db_nodes, "api": opts.api_replicas,
                    "lb": len(lb_names(opts)), "proxy": 1, WALSTREAM: 1 if opts.zero_rpo_backups else 0,
                    monitoring.ROLE: (4 if opts.backups else 3) if opts.monitoring else 0}
        for role, count in expected.items():
            have = sum(1 for c in containers.values() if c.labels.get(labels.ROLE) == role)
            if have != count:
                st.problems.append(f"expected {count} {role} container(s), found {have}")
        if st.vip and len(st.vip_holders) != 1:
            who = f" ({', '.join(st.vip_holders)}: a split brain)" if st.vip_holders else ""
            st.problems.append(f"expected one load balancer holding the VIP {st.vip}, found "
                               f"{len(st.vip_holders)}{who}")
        if members is None:
            st.problems.append(NO_PATRONI)
            return
        leaders = patroni.leaders(members)
        if len(leaders) != 1:
            st.problems.append(f"expected one Patroni leader, found {len(leaders)}")
        if not opts.async_replication and opts.db_nodes > 1 and len(leaders) == 1:
            guard = patroni.leader_protection(members, st.endpoints.get("patroni", {}))
            if not guard.protected:
                st.problems.append(f"leader not protected: {guard.problem}")
            for svc in st.services:
                if svc.role == "leader":
                    svc.detail += f" sync={guard.standby or 'none'}"
        for lb, lb_states in sorted(per_lb.items()):
            if lb_states is None or not leaders:
                continue
            up = [srv for (be, srv), state in lb_states.items() if be == "postgres" and state == "UP"]
            if up != leaders:
                st.problems.append(f"{lb} routes postgres to {up or 'nothing'}, leader is {leaders[0]}")
        if "api" in st.endpoints:
            try:
                ok = http.get(f"{st.endpoints['api']}/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                ok = False
            if not ok:
                through = f"the VIP {st.vip}" if st.vip else "haproxy"
                st.problems.append(f"GET /readyz through {through} does not answer 200")

    def _failure_logs(self) -> str:
        try:
            return self._logs_for_problems(self.status(quick=True)) if self.exists() else ""
        except Exception:  # diagnostics must never hide the original error
            return ""

    def _logs_for_problems(self, status: StackStatus, lines: int = 40) -> str:
        text = " ".join(status.problems)
        chunks = []
        for service, c in self.containers().items():
            if service in text or (c.labels.get(labels.ROLE) == "postgres" and "Patroni" in text):
                try:
                    tail = c.logs(tail=lines).decode(errors="replace").rstrip()
                except APIError:
                    tail = "(no logs)"
                chunks.append(f"--- {service} ({c.name}) last {lines} log lines ---\n{tail}")
        return "\n".join(chunks)


def _api_problem(service: str, seen: dict[str, str | None]) -> str:
    """One line for an API replica not UP everywhere: "in haproxy" when every LB agrees (or there is one)."""
    states = set(seen.values())
    if len(states) <= 1:
        state = next(iter(states), None)
        return f"{service} is {state or 'unknown'} in haproxy (GET /readyz)"
    return f"{service} is " + ", ".join(f"{v or 'unknown'} in {lb}" for lb, v in sorted(seen.items())) + \
        " (GET /readyz)"


def audit_api_url(endpoints: dict) -> str:
    """Where the final audit reads the reference API: through the VIP's first LB as published on 127.0.0.1 when
    there is a VIP (the audit's reader takes loopback URLs only, the one rule for every declared read), else the
    clients' address. The audit runs after the stack recovered, when both LBs serve."""
    direct = endpoints.get("api_direct") or {}
    return direct[min(direct)] if direct else endpoints["api"]


def _endpoints(containers: dict, vip: str | None = None) -> dict:
    """Where the harness reaches each service: published ports on 127.0.0.1, and with a VIP (zones >= 2) the API
    and PostgreSQL through it. haproxy_stats is the first LB's (what a one-LB stack had), haproxy_stats_all and
    haproxy_admin (the runtime API, host:port) and api_direct (each LB's API frontend, with a VIP) are every LB's."""
    out: dict = {"patroni": {}}
    if vip:
        out["vip"] = vip
        out["api"] = f"http://{vip}:8080"
        out["postgres"] = f"postgresql://{APP_USER}:***@{vip}:5432/{APP_DB}"
    for service, c in sorted(containers.items()):
        ports = (c.attrs.get("NetworkSettings") or {}).get("Ports") or {}

        def host(port: str, ports: dict = ports) -> str | None:
            bound = ports.get(port)
            return f"127.0.0.1:{bound[0]['HostPort']}" if bound else None

        role = c.labels.get(labels.ROLE)
        if role == "lb":
            if host("8080/tcp") and not vip:
                out["api"] = f"http://{host('8080/tcp')}"
            elif host("8080/tcp"):   # one LB's own API frontend, bypassing the VIP (to look at one LB)
                out.setdefault("api_direct", {})[service] = f"http://{host('8080/tcp')}"
            if host("8404/tcp"):
                out.setdefault("haproxy_stats", f"http://{host('8404/tcp')}")
                out.setdefault("haproxy_stats_all", {})[service] = f"http://{host('8404/tcp')}"
            if host(f"{zones.ADMIN_PORT}/tcp"):
                out.setdefault("haproxy_admin", {})[service] = host(f"{zones.ADMIN_PORT}/tcp")
            if host("5432/tcp") and not vip:  # recorded in meta.json and shown by `drill stack status`: no password
                out["postgres"] = f"postgresql://{APP_USER}:***@{host('5432/tcp')}/{APP_DB}"
        elif role == "proxy" and host("8474/tcp"):
            out["toxiproxy"] = f"http://{host('8474/tcp')}"
        elif role == "postgres" and host("8008/tcp"):
            out["patroni"][service] = f"http://{host('8008/tcp')}"
        elif role == monitoring.ROLE:
            for key, port in (("prometheus", monitoring.PROMETHEUS_PORT),
                              ("alertmanager", monitoring.ALERTMANAGER_PORT),
                              ("alert_receiver", monitoring.RECEIVER_PORT)):
                if service == key.replace("_", "-") and host(f"{port}/tcp"):
                    out[key] = f"http://{host(f'{port}/tcp')}"
    return out


def _monitoring_health(service: str, endpoints: dict) -> tuple[str, str]:
    """Prometheus is healthy once it has scraped every target (so the alert rules see the whole stack);
    Alertmanager and the receiver once they answer /-/ready."""
    if service == monitoring.PROMETHEUS:
        if "prometheus" not in endpoints:
            return "unhealthy", "no published port"
        try:
            up, not_up = alert_watch.scrape_health(endpoints["prometheus"])
        except alert_watch.MonitoringUnavailable:
            return "unhealthy", "does not answer"
        if not_up or not up:
            total = len(up) + len(not_up)
            return "unhealthy", f"{len(not_up)} of {total} targets not scraped: " + ", ".join(not_up[:4])
        return "healthy", f"{len(up)} targets up"
    key = {monitoring.ALERTMANAGER: "alertmanager", monitoring.RECEIVER: "alert_receiver"}.get(service)
    if key is None:
        return "healthy", ""  # the exporter: Prometheus' target check covers it
    if key in endpoints and alert_watch.is_ready(endpoints[key]):
        return "healthy", "ready"
    return "unhealthy", "not ready (GET /-/ready)"


SETTLE_ALERTS_S = 75.0  # > PatroniFailover's 1-minute window: a promotion while the stack came up (CI under load)
# fires it, and it resolves only a minute later; a shorter wait left it to the drill's pre-flight, which refused.


def settle_alerts(status: StackStatus, log: Log, timeout: float = SETTLE_ALERTS_S) -> None:
    """Wait until no alert fires or is pending: a new stack raises some while it comes up (no leader before the
    first election, no backup before the first one), and a drill's pre-flight must not see those. Pending
    counts too: an alert pending now fires a few seconds later, right into the pre-flight (game day: BackupTooOld
    pending while the exporter had not seen the first backup yet, firing a second after "healthy"). Never
    fails: what is still active after `timeout` is logged, and the pre-flight decides."""
    found = alert_watch.MonitoringEndpoints.of_stack(status.endpoints)
    if found is None or not found.alertmanager:
        return
    deadline = time.monotonic() + timeout
    firing: list[dict] = []
    while time.monotonic() < deadline:
        try:
            firing = alert_watch.firing_alerts(found)
            if found.prometheus:
                with http.session() as session:
                    firing += alert_watch.prometheus_alerts(session, found.prometheus)  # pending and firing
        except alert_watch.MonitoringUnavailable as exc:
            firing = [{"alertname": f"(unknown: {exc.message})"}]
        except (requests.RequestException, ValueError) as exc:
            firing = [{"alertname": f"(unknown: Prometheus: {exc})"}]
        if not firing:
            return
        time.sleep(0.5)
    log("alerts still firing or pending on the new stack: " + ", ".join(sorted({a["alertname"] for a in firing})))


def _etcd_health(container) -> tuple[str, str]:
    try:
        code, output = container.exec_run(
            ["etcdctl", "--endpoints=http://127.0.0.1:2379", "--command-timeout=2s", "endpoint", "health"],
            environment={"ETCDCTL_API": "3"},
        )
    except APIError as exc:
        return "unknown", str(exc)[:100]
    text = output.decode(errors="replace").strip().splitlines()
    return ("healthy" if code == 0 else "unhealthy"), (text[-1] if text else "")[:160]


def _order(service: str) -> tuple[int, str]:
    prefix = service.rstrip("0123456789")
    rank = {"etcd": 0, "pg": 1, WALSTREAM: 1, "toxiproxy": 2, "api": 3, "haproxy": 4, monitoring.PROMETHEUS: 5,
            monitoring.ALERTMANAGER: 6, monitoring.RECEIVER: 7, monitoring.EXPORTER: 8}.get(prefix, 9)
    return rank, service


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tar_files(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _explain_api_error(exc: APIError) -> str:
    text = str(getattr(exc, "explanation", None) or exc)
    if "port is already allocated" in text or "address already in use" in text:
        return f"a host port is already in use ({text}); choose another with --api-port or free it"
    return text


__all__ = ["Stack", "StackOptions", "StackStatus", "ServiceStatus", "api_names", "db_names", "toxiproxy_proxies"]
