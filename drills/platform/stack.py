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
from docker.types import EndpointConfig

from drills.errors import StackError
from drills.platform import alert_watch, backups, haproxy, http, labels, monitoring, patroni, walstream
from drills.platform.images import TOXIPROXY_VERSION
from drills.platform.stack_spec import (
    APP_DB,
    APP_USER,
    WALSTREAM,
    ServiceSpec,
    StackCredentials,
    StackOptions,
    api_names,
    db_names,
    services,
    toxiproxy_proxies,
)
from drills.platform.ticketing import derive_audit_token, remember_audit_token
from drills.platform.toxiproxy import ToxiproxyClient

Log = Callable[[str], None]
OPTIONS_LABEL = "drills.options"
CREDENTIALS_LABEL = "drills.credentials"


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


@dataclass
class StackStatus:
    name: str
    run_id: str
    options: dict
    services: list[ServiceStatus] = field(default_factory=list)
    endpoints: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    toxiproxy_version: str | None = None

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
        return data


class Stack:
    """One named reference stack on a Docker engine."""

    def __init__(self, client: docker.DockerClient, name: str = "default") -> None:
        self.client = client
        self.name = name

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
            return StackOptions(name=self.name)
        # A stack started before monitoring existed has none, whatever today's default is.
        return StackOptions(**{"monitoring": False, **json.loads(raw)})

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
        run_id = f"{self.name}-{secrets.token_hex(3)}"
        creds = StackCredentials.generate(derive_audit_token(audit_secret or secrets.token_hex(32)))
        t0 = time.monotonic()
        try:
            self._create(opts, run_id, creds)
            log(f"containers started in {time.monotonic() - t0:.1f}s; waiting for the stack to be healthy ...")
            status = self.wait_healthy(timeout=timeout, log=log)
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
        self.client.networks.create(
            net, driver="bridge",
            labels={**base_labels, OPTIONS_LABEL: json.dumps(asdict(opts), sort_keys=True),
                    CREDENTIALS_LABEL: creds.encode()},
        )
        for spec in services(opts, run_id):
            self._start_service(spec, run_id, net, creds)

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
                networking_config={net: EndpointConfig(version=self.client.api._version, aliases=[spec.service])},
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
    def wait_healthy(self, timeout: float = 180.0, log: Log = print, poll: float = 0.5) -> StackStatus:
        """Poll until healthy; on timeout raise with the problems and the logs of the services involved."""
        deadline = time.monotonic() + timeout
        last_report = 0.0
        status = self.status(quick=True)
        while not status.healthy:
            now = time.monotonic()
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
        return self.status()

    def status(self, quick: bool = False) -> StackStatus:
        """Each service with its role and health, the endpoints, and what is wrong (if anything)."""
        containers = self.containers()
        opts = self.options()
        st = StackStatus(name=self.name, run_id=self.run_id(), options=asdict(opts))
        if not containers:
            st.problems.append(f"no stack named {self.name!r}")
            return st
        st.endpoints = _endpoints(containers)
        if not quick and "api" in st.endpoints:  # clients of this API made later in this process can audit
            token = self.audit_token()
            if token:
                remember_audit_token(st.endpoints["api"], token)
        members = patroni.cluster_from_any(list(st.endpoints.get("patroni", {}).values()))
        lb_states = haproxy.server_states(st.endpoints["haproxy_stats"]) if "haproxy_stats" in st.endpoints else None
        roles = {m.name: m for m in members or []}

        for service, c in sorted(containers.items(), key=lambda kv: _order(kv[0])):
            role = c.labels.get(labels.ROLE, "?")
            s = ServiceStatus(service, c.name, c.short_id, role, c.status, "unknown")
            if c.status != "running":
                s.health = "unhealthy"
                st.problems.append(f"{service} is {c.status}")
            elif role == "postgres":
                m = roles.get(service)
                if m is None:
                    s.role, s.health = "unknown", "unhealthy"
                    st.problems.append(f"{service} is not a member of the Patroni cluster yet")
                else:
                    s.role = m.role
                    s.detail = f"state={m.state} timeline={m.timeline}" + (f" lag={m.lag}" if m.lag else "")
                    s.health = "healthy" if m.state in ("running", "streaming") else "unhealthy"
                    if s.health != "healthy":
                        st.problems.append(f"{service} (patroni) is {m.state}")
            elif role == "api":
                state = (lb_states or {}).get(("api", service))
                s.detail = f"haproxy={state or '?'}"
                s.health = "healthy" if state == "UP" else "unhealthy"
                if state != "UP":
                    st.problems.append(f"{service} is {state or 'unknown'} in haproxy (GET /readyz)")
            elif role == "lb":
                s.health = "healthy" if lb_states is not None else "unhealthy"
                if lb_states is None:
                    st.problems.append("haproxy stats do not answer")
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

        self._cluster_problems(st, opts, members, lb_states, containers)
        return st

    def _cluster_problems(self, st: StackStatus, opts: StackOptions, members, lb_states, containers) -> None:
        expected = {"etcd": opts.etcd_nodes, "postgres": opts.db_nodes, "api": opts.api_replicas,
                    "lb": 1, "proxy": 1, WALSTREAM: 1 if opts.zero_rpo_backups else 0,
                    monitoring.ROLE: (4 if opts.backups else 3) if opts.monitoring else 0}
        for role, count in expected.items():
            have = sum(1 for c in containers.values() if c.labels.get(labels.ROLE) == role)
            if have != count:
                st.problems.append(f"expected {count} {role} container(s), found {have}")
        if members is None:
            st.problems.append("no Patroni node answers")
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
        if lb_states is not None and leaders:
            up = [srv for (be, srv), state in lb_states.items() if be == "postgres" and state == "UP"]
            if up != leaders:
                st.problems.append(f"haproxy routes postgres to {up or 'nothing'}, leader is {leaders[0]}")
        if "api" in st.endpoints:
            try:
                ok = http.get(f"{st.endpoints['api']}/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                ok = False
            if not ok:
                st.problems.append("GET /readyz through haproxy does not answer 200")

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


def _endpoints(containers: dict) -> dict:
    out: dict = {"patroni": {}}
    for service, c in containers.items():
        ports = (c.attrs.get("NetworkSettings") or {}).get("Ports") or {}

        def host(port: str, ports: dict = ports) -> str | None:
            bound = ports.get(port)
            return f"127.0.0.1:{bound[0]['HostPort']}" if bound else None

        role = c.labels.get(labels.ROLE)
        if role == "lb":
            if host("8080/tcp"):
                out["api"] = f"http://{host('8080/tcp')}"
            if host("8404/tcp"):
                out["haproxy_stats"] = f"http://{host('8404/tcp')}"
            if host("5432/tcp"):  # recorded in meta.json and shown by `drill stack status`: never the password
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
