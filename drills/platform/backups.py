"""pgBackRest on the reference stack: set the stanza up, take backups, read the repository's catalogue.

Commands run inside a database node (docker exec, as postgres), because the repository is a volume mounted
in every node. When no node is left (a destroyed cluster), a short-lived container of the same image mounts
the volume, so the catalogue can still be read before a restore.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from docker.errors import APIError, NotFound

from drills.errors import DrillError
from drills.platform import labels, patroni
from drills.platform.stack_spec import BACKUP_REPO_PATH, STANZA, backup_volume

PG_DATA_MOUNT = "/var/lib/postgresql/data"

if TYPE_CHECKING:
    from drills.platform.stack import Stack


class BackupError(DrillError):
    """A backup, the repository or a restore failed. A finding about the system under test, not a harness
    failure: the drill records it and goes on (the budgets judge it)."""


@dataclass(frozen=True)
class BackupSet:
    label: str
    type: str                 # full / diff / incr
    start: float              # epoch seconds (pgBackRest keeps whole seconds)
    stop: float
    size: int                 # database size in bytes
    repo_size: int            # bytes in the repository (compressed)
    wal_start: str | None
    wal_stop: str | None

    @property
    def duration_s(self) -> float:
        return self.stop - self.start

    def to_dict(self) -> dict:
        return asdict(self)


def _set(raw: dict) -> BackupSet:
    info = raw.get("info") or {}
    stamp = raw.get("timestamp") or {}
    archive = raw.get("archive") or {}
    return BackupSet(label=raw.get("label", "?"), type=raw.get("type", "?"),
                     start=float(stamp.get("start") or 0), stop=float(stamp.get("stop") or 0),
                     size=int(info.get("size") or 0), repo_size=int((info.get("repository") or {}).get("size") or 0),
                     wal_start=archive.get("start"), wal_stop=archive.get("stop"))


def pg_containers(stack: Stack, running: bool = True) -> dict:
    return {s: c for s, c in stack.containers().items()
            if c.labels.get(labels.ROLE) == "postgres" and (not running or c.status == "running")}


def remove_db_node(client, container) -> tuple[dict[str, int], list[str]]:
    """Remove a database node and its data volume (never the backup repository); returns its published
    ports (to re-create it on the same ones) and the volumes removed."""
    container.reload()  # a listed container's attrs lack the port bindings
    bound = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
    ports = {p: int(b[0]["HostPort"]) for p, b in bound.items() if b and b[0].get("HostPort")}
    volumes = [m["Name"] for m in container.attrs.get("Mounts") or []
               if m.get("Type") == "volume" and m.get("Destination") == PG_DATA_MOUNT]
    container.remove(force=True)
    for vol in volumes:
        try:
            client.volumes.get(vol).remove(force=True)
        except NotFound:
            pass
    return ports, volumes


def leader(stack: Stack) -> tuple[str, object]:
    """(service, container) of the Patroni leader, asked through the running nodes' REST APIs."""
    nodes = pg_containers(stack)
    members = patroni.cluster_from_any(list(stack.patroni_urls(nodes).values())) or []
    found = patroni.leaders(members)
    if len(found) != 1 or found[0] not in nodes:
        raise BackupError(f"no single running Patroni leader to back up from (leaders: {found or 'none'})")
    return found[0], nodes[found[0]]


def pgbackrest(container, *args: str, timeout: float | None = None) -> tuple[int, str]:
    """Run pgBackRest in a node as postgres; returns (exit code, combined output)."""
    cmd = ["pgbackrest", f"--stanza={STANZA}", *args]
    if timeout:
        cmd = ["timeout", str(int(timeout)), *cmd]
    try:
        code, out = container.exec_run(cmd, user="postgres")
    except APIError as exc:
        return 125, str(getattr(exc, "explanation", None) or exc)
    return code, out.decode(errors="replace").strip()


def psql(node, *statements: str, db: str = "postgres") -> tuple[int, str]:
    """Run SQL statements in one psql session on a node, as the superuser over the local socket; stops at
    the first error. Returns (exit code, unaligned tuples-only output)."""
    cmd = ["psql", "-h", "/var/run/postgresql", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-tAX"]
    code, out = node.exec_run(cmd + [arg for sql in statements for arg in ("-c", sql)], user="postgres")
    return code, out.decode(errors="replace").strip()


LOCK_HELD = "unable to acquire lock"   # pgBackRest's exit 50: another backup (the scheduled loop) holds the stanza
LOCK_WAIT_S = 90.0                     # longer than any scheduled backup of a drill's database takes here


def pgbackrest_when_free(container, *args: str, timeout: float | None = None,
                         lock_wait: float = LOCK_WAIT_S) -> tuple[int, str]:
    """pgbackrest(), tried again while the stanza's lock is held: the stack's scheduled backups
    (harness/images/postgres/backup_loop.sh) take it every few seconds, and pgBackRest fails at once instead of
    waiting for it. Any other failure is returned as it is."""
    deadline = time.monotonic() + lock_wait
    while True:
        code, out = pgbackrest(container, *args, timeout=timeout)
        if code == 0 or LOCK_HELD not in out or time.monotonic() > deadline:
            return code, out
        time.sleep(1.0)


def first_backup(stack: Stack, timeout: float = 300) -> BackupSet:
    """Create the stanza and take the first full backup on the leader (the stack is not ready without it)."""
    _, node = leader(stack)
    code, out = pgbackrest_when_free(node, "--log-level-console=warn", "stanza-create", timeout=60)
    if code != 0:
        raise BackupError(f"pgbackrest stanza-create failed (exit {code}): {_last(out)}")
    return take_backup(stack, "full", timeout=timeout)


def take_backup(stack: Stack, backup_type: str = "full", timeout: float = 600) -> BackupSet:
    """One backup on the current leader; returns its catalogue entry."""
    service, node = leader(stack)
    before = {s.label for s in catalogue(stack)}
    code, out = pgbackrest_when_free(node, f"--type={backup_type}", "--log-level-console=warn", "backup",
                                     timeout=timeout)
    if code != 0:
        raise BackupError(f"pgbackrest {backup_type} backup on {service} failed (exit {code}): {_last(out)}")
    new = [s for s in catalogue(stack) if s.label not in before]
    if not new:
        raise BackupError(f"pgbackrest {backup_type} backup on {service} reported success but no new set")
    return new[-1]


def info_json(stack: Stack) -> dict:
    """`pgbackrest info` for the stanza, as JSON; raises BackupError when the repository cannot be read."""
    nodes = pg_containers(stack)
    if nodes:
        code, out = pgbackrest(next(iter(nodes.values())), "--output=json", "--log-level-console=error", "info",
                               timeout=60)
    else:
        code, out = repo_tool(stack, ["pgbackrest", f"--stanza={STANZA}", f"--repo1-path={BACKUP_REPO_PATH}",
                                      "--lock-path=/tmp", "--log-level-console=error", "--output=json", "info"])
    if code != 0:
        raise BackupError(f"the backup repository cannot be read: pgbackrest info exit {code}: {_last(out)}")
    try:
        stanzas = json.loads(out[out.index("["):])
    except ValueError:
        raise BackupError(f"the backup repository cannot be read: {_last(out)}") from None
    for st in stanzas:
        if st.get("name") == STANZA:
            return st
    return {"name": STANZA, "backup": [], "status": {"code": 1, "message": "missing stanza path"}}


def catalogue(stack: Stack) -> list[BackupSet]:
    """Backup sets, oldest first."""
    return sorted((_set(b) for b in info_json(stack).get("backup") or []), key=lambda s: (s.stop, s.label))


def repo_tool(stack: Stack, cmd: list[str], timeout: float = 120) -> tuple[int, str]:
    """Run a command in a short-lived container of the postgres image with the repository mounted."""
    from drills.platform.images import image_tag  # late: images pulls in the build machinery

    client = stack.client
    try:
        client.volumes.get(backup_volume(stack.name))
    except NotFound:
        return 1, f"backup repository volume {backup_volume(stack.name)} does not exist"
    container = client.containers.create(
        image_tag("postgres"), entrypoint=["timeout", str(int(timeout))], command=cmd, user="postgres",
        labels={labels.RUN: stack.run_id() or stack.name, labels.STACK: stack.name, labels.KIND: "backup-tool"},
        volumes={backup_volume(stack.name): {"bind": BACKUP_REPO_PATH, "mode": "rw"}}, detach=True)
    try:
        container.start()
        code = container.wait(timeout=timeout + 10).get("StatusCode", 1)
        out = container.logs().decode(errors="replace").strip()
        return code, out
    finally:
        container.remove(force=True)


def _last(text: str, limit: int = 400) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "ERROR" in ln] or lines
    return (errors[-1] if errors else "(no output)")[:limit]
