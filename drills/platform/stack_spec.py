"""What the reference stack is made of: services, their images, configs, ports and links.

Pure data (no Docker calls), so the shape of the stack can be unit-tested and printed by `--dry-run`.
Secrets are not part of it: a service spec, its rendered config files and the images carry none.
`StackCredentials` (random per stack) adds them to a container's environment as it starts (stack.py).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from string import Template

import yaml

from drills.platform import labels, monitoring, zones
from drills.platform.images import image_tag
from drills.resources import HARNESS, require
from drills.scenario.zero_rpo import zero_rpo_conflict

CONFIG_DIR = HARNESS / "config"

APP_USER = APP_DB = "ticketing"

# Patroni timings. Defaults are ttl 30 / loop_wait 10 / retry_timeout 10: a dead leader is replaced after
# up to 40 s. Drills want failovers well inside a minute and comparable run to run, so: every node runs its
# HA loop each second and the leader lock expires 12 s after the last renewal. retry_timeout is the floor:
# when the etcd member Patroni talks to dies (worst: the etcd leader), Patroni spends one per-member timeout
# (retry_timeout / 3) on the dead member and waits out etcd's election (up to ~2 s with a split vote) before
# a DCS call succeeds; with 3 s it gave up and the leader demoted itself (etcd-member-loss), 5 s leaves room.
# Patroni's rule: loop_wait + 2 * retry_timeout <= ttl.
PATRONI_TTL = 12
PATRONI_LOOP_WAIT = 1
PATRONI_RETRY_TIMEOUT = 5
HEALTH_CHECK_INTER_MS = 1000

API_PORT = 8000
DB_PROXY_BASE = 15000   # Toxiproxy listen port for api<i> -> database is DB_PROXY_BASE + i
LB_PROXY_BASE = 16000   # Toxiproxy listen port for haproxy -> api<i> is LB_PROXY_BASE + i

STANZA = "drills"                     # the pgBackRest stanza (one per stack: the repository is per stack)
BACKUP_REPO_PATH = "/var/lib/pgbackrest"
PG_DATA_DIR = "/var/lib/postgresql/data/pgdata"
BACKUP_TYPES = ("full", "diff", "incr")

# Zero-RPO backups (StackOptions.zero_rpo_backups): a WAL stream into the backup repository that every write's
# acknowledgement waits for (drills/platform/walstream.py says why it is built this way). The slot name is also the
# stream's application_name, which the API looks for in the leader's pg_stat_replication.
WALSTREAM = "walstream"                       # the service, and its role label
WALSTREAM_SLOT = "drills_walstream"
WALSTREAM_DIR = f"{BACKUP_REPO_PATH}/stream"
# How long the API waits, after a commit, for the stream to have it before answering 503 (indeterminate: not
# acknowledged). A failover costs the stream ~1-2 s to find the new leader; a dead stream blocks every write.
WALSTREAM_WAIT_S = 3.0
KEEPALIVED_CONFIG = "/etc/keepalived/keepalived.conf"   # present only with zones >= 2 (harness/images/haproxy/lb.sh)


@dataclass(frozen=True)
class StackOptions:
    """Knobs of the reference stack (a scenario's `stack:` section maps onto these)."""

    name: str = "default"
    api_replicas: int = 3
    db_nodes: int = 3
    etcd_nodes: int = 3
    async_replication: bool = False
    maximum_lag_on_failover: int = 1048576
    hot_event_seats: int = 20000
    cold_events: int = 3
    cold_event_seats: int = 500
    api_port: int | None = None  # host port of the (first) HAProxy's API frontend; None picks a free one
    # Zones (drills/platform/zones.py): nodes spread over `zones` letters; with 2 or more, two load balancers share
    # a virtual IP, the address clients use.
    zones: int = 3
    scrypt_n: int = 16384
    # Backups (pgBackRest): WAL archived continuously, a full backup when the stack starts, then a backup of
    # `backup_type` every `backup_interval_s` seconds (0 = none scheduled). archive_timeout_s bounds how old
    # the newest archived WAL can be, i.e. the data a cluster loss can take with it.
    backups: bool = True
    backup_interval_s: int = 0
    backup_type: str = "incr"
    backup_retention_full: int = 2
    archive_timeout_s: int = 15
    # Zero-RPO: every acknowledged write is in the repository's WAL stream before the acknowledgement (needs backups
    # and synchronous replication: drills.scenario.zero_rpo says why).
    zero_rpo_backups: bool = False
    # Prometheus, Alertmanager and the drill's alert receiver (drills/platform/monitoring.py); purchase_slo is the
    # objective the error-budget burn alerts judge (99.9 % of purchases without a server error).
    monitoring: bool = True
    purchase_slo: float = 0.999
    extra_rules: dict[str, str] = field(default_factory=dict)  # a scenario's own rule files: name -> text

    def validate(self) -> list[str]:
        problems = []
        if not self.name.replace("-", "").isalnum() or len(self.name) > 40:
            problems.append(f"stack name {self.name!r}: use letters, digits and '-' (at most 40)")
        for key, low, high in (("api_replicas", 1, 9), ("db_nodes", 1, 9), ("etcd_nodes", 1, 9)):
            value = getattr(self, key)
            if not low <= value <= high:
                problems.append(f"{key} must be between {low} and {high}, not {value}")
        zone_problem = zones.zones_problem(self.zones, self.db_nodes, self.etcd_nodes, self.api_replicas)
        if zone_problem:
            problems.append(f"zones: {zone_problem}")
        if self.hot_event_seats < 1:
            problems.append("hot_event_seats must be at least 1")
        if self.api_port is not None and not 1 <= self.api_port <= 65535:
            problems.append(f"api_port must be a TCP port (1-65535), not {self.api_port}")
        if self.backup_type not in BACKUP_TYPES:
            problems.append(f"backup_type must be one of {', '.join(BACKUP_TYPES)}, not {self.backup_type!r}")
        if self.backup_interval_s < 0 or self.backup_retention_full < 1 or self.archive_timeout_s < 0:
            problems.append("backup_interval_s and archive_timeout_s must be >= 0, backup_retention_full >= 1")
        conflict = zero_rpo_conflict(self.zero_rpo_backups, self.backups, self.async_replication)
        if conflict:
            problems.append(conflict[1])
        if not 0.5 <= self.purchase_slo < 1:
            problems.append(f"purchase_slo must be at least 0.5 and below 1, not {self.purchase_slo}")
        return problems


@dataclass(frozen=True)
class RestorePlan:
    """How the database nodes bootstrap when they are re-created by a restore: which backup sets to try
    (best first) and, for point-in-time recovery, the moment to stop replaying WAL at (exclusive)."""

    sets: tuple[str, ...]
    target_time: str | None = None     # PostgreSQL timestamptz text, e.g. "2026-11-26 12:00:01.123+00"
    target_xid: int | None = None      # exact: stop before this transaction commits (wins over target_time)


@dataclass
class ServiceSpec:
    """One container of the stack."""

    service: str
    role: str
    image: str
    command: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    ports: dict[str, int | None] = field(default_factory=dict)  # "8080/tcp" -> host port (None = any)
    volume_path: str | None = None  # a named volume is mounted here
    shared_volumes: dict[str, str] = field(default_factory=dict)  # stack-wide volume suffix -> mount path
    files: dict[str, str] = field(default_factory=dict)  # absolute path in container -> content
    user: str | None = None  # run as this user instead of the image's
    kind: str | None = None  # labels.KIND: a helper of the stack (monitoring), never a fault target
    read_only_volumes: tuple[str, ...] = ()  # suffixes of shared_volumes mounted read-only
    zone: str | None = None  # labels.ZONE (zones.zone_of_services); None: a zoneless instrument
    group: str | None = None  # labels.GROUP: the service name several containers answer to (haproxy)
    ipv4_address: str | None = None  # a fixed address on the stack's network (the LBs' VRRP peers)
    cap_add: tuple[str, ...] = ()  # NET_ADMIN: keepalived adds and removes the VIP

    def labels(self, run_id: str, stack: str) -> dict[str, str]:
        found = {labels.RUN: run_id, labels.STACK: stack, labels.SERVICE: self.service, labels.ROLE: self.role}
        optional = {labels.KIND: self.kind, labels.ZONE: self.zone, labels.GROUP: self.group}
        return {**found, **{k: v for k, v in optional.items() if v}}


@dataclass(frozen=True)
class StackCredentials:
    """The secrets of one stack: made with `secrets` when it starts, handed to containers in their environment
    when each starts (a restore's new nodes get the same ones), never written into an image or a config file.

    The database roles' passwords are random. The audit token is whatever the starter derived
    (drills.platform.ticketing.derive_audit_token); the API compares it, the harness sends it."""

    superuser_password: str = field(repr=False)
    replication_password: str = field(repr=False)
    app_password: str = field(repr=False)
    audit_token: str = field(repr=False)

    @classmethod
    def generate(cls, audit_token: str) -> StackCredentials:
        return cls(secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16), audit_token)

    def encode(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def decode(cls, raw: str | None) -> StackCredentials | None:
        try:
            return cls(**json.loads(raw)) if raw else None
        except (ValueError, TypeError):
            return None

    def environment(self, role: str) -> dict[str, str]:
        """What a container of `role` gets: Patroni reads (and drops from its environment) PATRONI_*_PASSWORD;
        the post-bootstrap script sets the API's role password; the API's libpq reads PGPASSWORD, so its
        DATABASE_URL carries no password."""
        if role == "postgres":
            return {"PATRONI_SUPERUSER_PASSWORD": self.superuser_password,
                    "PATRONI_REPLICATION_PASSWORD": self.replication_password,
                    "DRILLS_APP_PASSWORD": self.app_password}
        if role == "api":
            return {"PGPASSWORD": self.app_password, "AUDIT_TOKEN": self.audit_token}
        if role == WALSTREAM:  # pg_receivewal connects as the replication role
            return {"PGPASSWORD": self.replication_password}
        return {}


def etcd_names(opts: StackOptions) -> list[str]:
    return [f"etcd{i}" for i in range(1, opts.etcd_nodes + 1)]


def db_names(opts: StackOptions) -> list[str]:
    return [f"pg{i}" for i in range(1, opts.db_nodes + 1)]


def api_names(opts: StackOptions) -> list[str]:
    return [f"api{i}" for i in range(1, opts.api_replicas + 1)]


def lb_names(opts: StackOptions) -> list[str]:
    return zones.lb_names(opts.zones)


def toxiproxy_proxies(opts: StackOptions, addrs: zones.LbAddresses | None = None) -> list[dict]:
    """The links Toxiproxy sits on: each API replica to the database (through the load balancer: the one holding
    the VIP with zones >= 2), and the LB to each replica."""
    lb = (addrs or zones.EXAMPLE_ADDRESSES).vip if zones.has_vip(opts.zones) else "haproxy"
    proxies = []
    for i, api in enumerate(api_names(opts), start=1):
        proxies.append({"name": f"{api}_db", "listen": f"0.0.0.0:{DB_PROXY_BASE + i}",
                        "upstream": f"{lb}:5432", "enabled": True})
    for i, api in enumerate(api_names(opts), start=1):
        proxies.append({"name": f"lb_{api}", "listen": f"0.0.0.0:{LB_PROXY_BASE + i}",
                        "upstream": f"{api}:{API_PORT}", "enabled": True})
    return proxies


def backup_volume(stack: str) -> str:
    return f"drills-{stack}-backups"


def render_pgbackrest(opts: StackOptions) -> str:
    return _template("pgbackrest.conf.tmpl").substitute(retention_full=opts.backup_retention_full, stanza=STANZA)


def render_patroni(opts: StackOptions, name: str, restore: RestorePlan | None = None) -> str:
    """Patroni's configuration; with `restore`, the node bootstraps from the backup repository instead of
    initdb (Patroni's custom bootstrap), replaying WAL from the archive up to the target and promoting."""
    text = _render_patroni(opts, name)
    if restore is None:
        return text
    doc = yaml.safe_load(text)
    recovery = {
        "restore_command": f'pgbackrest --stanza={STANZA} archive-get %f "%p"',
        "recovery_target_action": "promote",
        "recovery_target_timeline": "latest",
    }
    if restore.target_xid:
        recovery["recovery_target_xid"] = str(restore.target_xid)
        recovery["recovery_target_inclusive"] = "false"
    elif restore.target_time:
        recovery["recovery_target_time"] = restore.target_time
        recovery["recovery_target_inclusive"] = "false"
    doc["bootstrap"]["method"] = "pgbackrest"
    doc["bootstrap"]["pgbackrest"] = {
        "command": "/usr/local/bin/drills-restore",
        "keep_existing_recovery_conf": False,
        "recovery_conf": recovery,
    }
    return "# Restore mode: bootstraps from the pgBackRest repository (drills/platform/restore.py).\n" + \
        yaml.safe_dump(doc, sort_keys=False)


def _render_patroni(opts: StackOptions, name: str) -> str:
    archive = f"pgbackrest --stanza={STANZA} archive-push %p" if opts.backups else "/bin/true"
    return _template("patroni.yml.tmpl").substitute(
        name=name,
        etcd_hosts=",".join(f"{e}:2379" for e in etcd_names(opts)),
        ttl=PATRONI_TTL,
        loop_wait=PATRONI_LOOP_WAIT,
        retry_timeout=PATRONI_RETRY_TIMEOUT,
        maximum_lag_on_failover=opts.maximum_lag_on_failover,
        synchronous_mode="false" if opts.async_replication else "true",
        permanent_slots=f"{{{WALSTREAM_SLOT}: {{type: physical}}}}" if opts.zero_rpo_backups else "{}",
        archive_mode="on" if opts.backups else "off",
        archive_command=archive,
        archive_timeout=f"{opts.archive_timeout_s}s" if opts.backups else "0",
    )


def render_haproxy(opts: StackOptions, lb: str = "haproxy") -> str:
    """haproxy.cfg of the load balancer `lb` (the same for every LB but the X-LB header naming it)."""
    api_servers = "\n".join(
        f"    server {api} toxiproxy:{LB_PROXY_BASE + i} check" for i, api in enumerate(api_names(opts), start=1)
    )
    pg_servers = "\n".join(f"    server {pg} {pg}:5432 check port 8008" for pg in db_names(opts))
    return _template("haproxy.cfg.tmpl").substitute(
        api_servers=api_servers, pg_servers=pg_servers, check_inter_ms=HEALTH_CHECK_INTER_MS, lb_name=lb,
        admin_port=zones.ADMIN_PORT,
    )


def services(opts: StackOptions, stack_token: str, addrs: zones.LbAddresses | None = None) -> list[ServiceSpec]:
    """All containers of the stack, in start order (everything retries, so order is only a hint). `addrs`: the
    stack network's plan (zones >= 2: the VIP and the LBs' fixed addresses); None renders zones.EXAMPLE_ADDRESSES
    (what a dry run and the image check need)."""
    out: list[ServiceSpec] = []
    placed = zones.zone_of_services(opts)
    etcds = etcd_names(opts)
    cluster = ",".join(f"{e}=http://{e}:2380" for e in etcds)
    for e in etcds:
        out.append(ServiceSpec(
            service=e, role="etcd", image=image_tag("etcd"), zone=placed[e],
            command=[
                f"--name={e}", "--data-dir=/var/lib/etcd/data",
                "--listen-client-urls=http://0.0.0.0:2379", f"--advertise-client-urls=http://{e}:2379",
                "--listen-peer-urls=http://0.0.0.0:2380", f"--initial-advertise-peer-urls=http://{e}:2380",
                f"--initial-cluster={cluster}", "--initial-cluster-state=new",
                f"--initial-cluster-token=drills-{stack_token}",
                "--heartbeat-interval=100", "--election-timeout=1000",
            ],
        ))
    for pg in db_names(opts):
        out.append(db_service(opts, pg))
    out.append(ServiceSpec(
        service="toxiproxy", role="proxy", image=image_tag("toxiproxy"),
        command=["-host=0.0.0.0", "-port=8474", "-config=/etc/toxiproxy/proxies.json"],
        ports={"8474/tcp": None},
        files={"/etc/toxiproxy/proxies.json": json.dumps(toxiproxy_proxies(opts, addrs), indent=2)},
    ))
    for i, api in enumerate(api_names(opts), start=1):
        out.append(ServiceSpec(
            service=api, role="api", image=image_tag("api"), zone=placed[api],
            environment={
                "DATABASE_URL": (  # no password: PGPASSWORD (StackCredentials)
                    f"host=toxiproxy port={DB_PROXY_BASE + i} dbname={APP_DB} user={APP_USER} "
                    f"connect_timeout=2 application_name={api}"
                ),
                "REPLICA_ID": api,
                "HOT_EVENT_SEATS": str(opts.hot_event_seats),
                "COLD_EVENTS": str(opts.cold_events),
                "COLD_EVENT_SEATS": str(opts.cold_event_seats),
                "SCRYPT_N": str(opts.scrypt_n),
                **api_stream_environment(opts),
            },
        ))
    out.extend(lb_services(opts, addrs))
    if opts.zero_rpo_backups:
        out.append(walstream_service(opts))
    if opts.monitoring:
        out.extend(ServiceSpec(**kw) for kw in monitoring.services(
            opts, db_names(opts), etcd_names(opts), api_names(opts), STANZA, BACKUP_REPO_PATH))
    return out


def lb_services(opts: StackOptions, addrs: zones.LbAddresses | None = None) -> list[ServiceSpec]:
    """The load balancers. Each publishes its API frontend (the first on api_port), stats, PostgreSQL and the
    runtime API on 127.0.0.1; with zones >= 2 clients use the VIP instead, which keepalived moves between them."""
    placed = zones.zone_of_services(opts)
    vip = zones.has_vip(opts.zones)
    plan = addrs or zones.EXAMPLE_ADDRESSES
    out = []
    for i, lb in enumerate(lb_names(opts)):
        files = {"/etc/haproxy/haproxy.cfg": render_haproxy(opts, lb)}
        if vip:
            files[KEEPALIVED_CONFIG] = zones.render_keepalived(opts.name, lb, plan)
        out.append(ServiceSpec(
            service=lb, role=zones.LB_ROLE, image=image_tag("haproxy"), zone=placed[lb],
            group=zones.LB_GROUP if vip else None,
            ports={"8080/tcp": opts.api_port if i == 0 else None, "8404/tcp": None, "5432/tcp": None,
                   f"{zones.ADMIN_PORT}/tcp": None},
            files=files,
            ipv4_address=plan.lb_ips[lb] if vip else None,
            cap_add=("NET_ADMIN",) if vip else (),
        ))
    return out


def db_service(opts: StackOptions, name: str, restore: RestorePlan | None = None) -> ServiceSpec:
    """One PostgreSQL/Patroni node; a restore re-creates the nodes from this with a RestorePlan."""
    env = {"DRILLS_APP_USER": APP_USER, "DRILLS_APP_DB": APP_DB, "DRILLS_STANZA": STANZA}
    if opts.backups and opts.backup_interval_s > 0:
        env["DRILLS_BACKUP_INTERVAL"] = str(opts.backup_interval_s)
        env["DRILLS_BACKUP_TYPE"] = opts.backup_type
    if restore is not None:
        env["DRILLS_RESTORE_SETS"] = " ".join(restore.sets)
    return ServiceSpec(
        service=name, role="postgres", image=image_tag("postgres"), zone=zones.zone_of_services(opts).get(name),
        environment=env,
        ports={"8008/tcp": None},
        volume_path="/var/lib/postgresql/data",
        shared_volumes={"backups": BACKUP_REPO_PATH},
        files={"/etc/patroni/patroni.yml": render_patroni(opts, name, restore),
               "/etc/pgbackrest/pgbackrest.conf": render_pgbackrest(opts)},
    )


def api_stream_environment(opts: StackOptions) -> dict[str, str]:
    """What tells the API to wait for the WAL stream after each commit (nothing without zero-RPO backups)."""
    if not opts.zero_rpo_backups:
        return {}
    return {"BACKUP_STREAM": WALSTREAM_SLOT, "BACKUP_STREAM_WAIT_S": f"{WALSTREAM_WAIT_S:g}"}


def walstream_service(opts: StackOptions) -> ServiceSpec:
    """The zero-RPO WAL stream: pg_receivewal under a supervisor (harness/images/postgres/walstream.sh) in a
    container of the postgres image with the repository mounted, beside the cluster, so it outlives it."""
    return ServiceSpec(
        service=WALSTREAM, role=WALSTREAM, image=image_tag("postgres"),
        command=["/usr/local/bin/drills-walstream"],
        environment={"DRILLS_PATRONI_MEMBERS": " ".join(db_names(opts)), "DRILLS_STREAM_DIR": WALSTREAM_DIR,
                     "DRILLS_STREAM_SLOT": WALSTREAM_SLOT, "DRILLS_STANZA": STANZA, "DRILLS_REPO": BACKUP_REPO_PATH},
        shared_volumes={"backups": BACKUP_REPO_PATH},
        files={"/etc/pgbackrest/pgbackrest.conf": render_pgbackrest(opts)},
    )


def _template(name: str) -> Template:
    return Template((require(CONFIG_DIR) / name).read_text())
