"""Restore the reference stack's database cluster from its pgBackRest repository, as an operator would:
pick the backup set (the newest, or the newest that ended before a point-in-time target), check it exists
before touching anything, replace every PostgreSQL/Patroni node with an empty one, clear Patroni's state in
etcd, and let Patroni bootstrap the new cluster from the backup (custom bootstrap) replaying archived WAL up
to the target. Replicas then clone the restored leader. HAProxy follows the new leader by itself, and the
APIs' connection pools reconnect, so nothing else is restarted.

With zero-RPO backups (drills/platform/walstream.py) the WAL stream's files are pushed into the archive once the
old nodes are gone, so the restore replays up to the last acknowledged commit; the stream then follows the
restored leader from an empty directory, and once it streams the current WAL segment is switched and archived,
so the archive and the new stream meet without a gap.

Once the restored leader is writable, every session it holds is voided (a session epoch, the API's table
session_epochs): the restored rows cannot tell which sessions the lost password changes revoked, and a
revoked session must never work again. The cost — everyone logs in again — is counted.

Every step is timestamped: the drill's RTO and RPO are measured against them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from docker.errors import APIError

from drills.platform import backups, labels, walstream
from drills.platform.backups import BackupError, BackupSet
from drills.platform.stack_spec import APP_DB, RestorePlan, db_names, db_service

if TYPE_CHECKING:
    from drills.platform.stack import Stack

Log = Callable[[str], None]
DCS_PREFIX = "/drills/drills/"   # Patroni namespace /drills/, scope drills

@dataclass
class RestoreResult:
    ok: bool
    started: float                                  # epoch
    target: str = "latest"                          # latest | time | xid
    target_time: float | None = None                # epoch, for point-in-time
    target_xid: int | None = None                   # stop just before this transaction commits
    candidates: list[str] = field(default_factory=list)
    set_used: str | None = None
    sets_skipped: list[dict] = field(default_factory=list)
    cluster_removed_at: float | None = None         # the old nodes are gone: no write can land after this
    leader_at: float | None = None                  # the restored leader accepts connections
    healthy_at: float | None = None                 # leader + synchronous standby: commits work again
    recovered_to: float | None = None               # commit time of the last transaction replayed
    sessions_not_before: float | None = None        # session epoch stamped on the restored leader
    sessions_voided: int | None = None              # live sessions the epoch ended (everyone logs in again)
    stream: dict | None = None                      # zero-RPO: what the WAL stream handed over (walstream.HandOver)
    leader: str | None = None
    error: str | None = None
    finished: float | None = None
    backups: list[dict] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        return round(self.finished - self.started, 3) if self.finished else None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["duration_s"] = self.duration_s
        return data


def choose_sets(sets: list[BackupSet], before: float | None) -> list[BackupSet]:
    """Backup sets worth trying, best first: newest first; for a point-in-time target only sets that ended
    at least a second before it (pgBackRest stamps whole seconds, and WAL replay must start before it)."""
    usable = [s for s in sets if before is None or s.stop + 1 <= before]
    return sorted(usable, key=lambda s: s.stop, reverse=True)


def pg_time(epoch: float) -> str:
    """An epoch as a timestamptz literal PostgreSQL's recovery_target_time accepts."""
    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def restore_cluster(stack: Stack, before: float | None = None, log: Log = print, timeout: float = 300.0,
                    patroni_ports: dict[str, int] | None = None, xid: int | None = None) -> RestoreResult:
    """Restore (latest, or to just before `before`); never raises for a failed restore: the result says.

    With `xid` (the mistaken transaction) recovery stops exactly before that commit; `before` (its start
    time) then only chooses the backup set, which must have ended earlier.

    `patroni_ports` (service -> host port of Patroni's REST API) keeps the nodes' published ports when they
    are gone already (a destroyed cluster), so probes and users keep their URLs.

    Two restores of one stack at once would wreck each other: a drill runs them one at a time through its
    fault context's RestoreGate (drills/faults/context.py)."""
    res = RestoreResult(ok=False, started=time.time(), target="xid" if xid else "time" if before else "latest",
                        target_time=before, target_xid=xid)
    try:
        _restore(stack, res, before, log, timeout, patroni_ports or {})
        res.ok = True
    except BackupError as exc:
        res.error = exc.message
    except (APIError, OSError) as exc:
        res.error = f"restore failed: {getattr(exc, 'explanation', None) or exc}"
    res.finished = time.time()
    log(f"restore {'done' if res.ok else 'FAILED'} in {res.duration_s:.1f}s"
        + (f" from {res.set_used}" if res.set_used else "") + (f": {res.error}" if res.error else ""))
    return res


def _restore(stack: Stack, res: RestoreResult, before: float | None, log: Log, timeout: float,
             patroni_ports: dict[str, int]) -> None:
    opts = stack.options()
    if not opts.backups:
        raise BackupError("backups are off for this stack (stack.reference.backups: false): nothing to restore from")
    sets = backups.catalogue(stack)
    res.backups = [s.to_dict() for s in sets]
    if not sets:
        raise BackupError("no backup exists in the repository yet (stanza drills): nothing to restore from")
    chosen = choose_sets(sets, before)
    if not chosen:
        target = pg_time(before) if before is not None else "(latest)"
        raise BackupError(f"no backup ended before the recovery target {target} "
                          f"(oldest backup ended {pg_time(sets[0].stop)})")
    res.candidates = [s.label for s in chosen]
    flushed = _flush_wal(stack)
    if flushed:
        log(f"restore: the old leader archived its last WAL ({flushed})")
    log(f"restore: candidates {', '.join(res.candidates)}"
        + (f", recovery target: just before transaction {res.target_xid}" if res.target_xid else
           f", recovery target {pg_time(before)}" if before else ", to the end of the archived WAL"))

    ports: dict[str, dict[str, int | None]] = {name: {"8008/tcp": port} for name, port in patroni_ports.items()}
    ports.update(_remove_db_nodes(stack))
    res.cluster_removed_at = time.time()
    if opts.zero_rpo_backups:
        handed = walstream.hand_over(stack)
        res.stream = handed.to_dict()
        log(f"restore: the WAL stream handed {handed.pushed} file(s) to the archive (newest {handed.last or '-'}, "
            f"{handed.already} there already) in {handed.seconds:.1f}s")
    _clear_dcs(stack)
    plan = RestorePlan(sets=tuple(res.candidates), target_time=pg_time(before) if before else None,
                       target_xid=res.target_xid)
    for name in db_names(opts):
        spec = db_service(opts, name, plan)
        if name in ports:
            spec.ports = ports[name]  # same host ports as before: probes and users keep their URLs
        stack.start_service(spec)
    log("restore: nodes re-created, Patroni bootstraps from the repository ...")

    deadline = time.monotonic() + timeout
    while True:
        nodes = backups.pg_containers(stack, running=False)
        if nodes and all(c.status in ("exited", "dead") for c in nodes.values()):
            raise BackupError("every database node exited during the restore: " + _restore_errors(stack, res))
        try:
            res.leader, node = backups.leader(stack)
            if writable(node):
                break
        except BackupError:
            pass
        if time.monotonic() > deadline:
            raise BackupError(f"no restored leader after {timeout:.0f}s: " + _restore_errors(stack, res))
        time.sleep(0.5)
    res.leader_at = time.time()
    log(f"restore: {res.leader} is the restored leader after {res.leader_at - res.started:.1f}s")
    _void_sessions(node, res, log)
    report = _read_report(node)
    res.set_used, res.sets_skipped = report.get("set"), report.get("skipped") or []
    res.recovered_to = _recovered_to(node)
    try:
        stack.wait_healthy(timeout=max(30.0, deadline - time.monotonic()), log=lambda _m: None)
    except Exception as exc:  # the leader serves; a missing standby is reported, not fatal
        log(f"restore: stack not fully healthy yet: {getattr(exc, 'message', exc)}")
    else:
        res.healthy_at = time.time()
        if opts.zero_rpo_backups:  # healthy includes the stream: close the gap between archive and stream
            segment = _flush_wal(stack)
            if res.stream is not None:
                res.stream["archived_to"] = segment


# One statement, one transaction: count what the epoch ends, then stamp it. Committed locally: a restored
# cluster has no synchronous standby yet (synchronous_mode_strict would hold the commit until one streams),
# and the replicas clone the leader after this, so they get the epoch with everything else.
VOID_SESSIONS_SQL = (
    "SET synchronous_commit = local; "
    "WITH live AS (SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL AND expires_at > now()), "
    "stamp AS (INSERT INTO session_epochs (reason) VALUES ('restore') RETURNING sessions_not_before) "
    "SELECT (SELECT n FROM live), (SELECT extract(epoch FROM sessions_not_before) FROM stamp)")


def _void_sessions(node, res: RestoreResult, log: Log) -> None:
    """Stamp a session epoch on the restored leader (see the module docstring); a failure is logged and
    left visible in the result (sessions_not_before None), never fatal to the restore."""
    code, out = backups.psql(node, VOID_SESSIONS_SQL, db=APP_DB)
    count, _, epoch = out.rpartition("\n")[2].partition("|")
    try:
        voided, not_before = int(count), float(epoch)
    except ValueError:
        log(f"restore: could not void the restored sessions (exit {code}): {out[-300:]}")
        return
    res.sessions_voided, res.sessions_not_before = voided, not_before
    log(f"restore: {res.sessions_voided} restored sessions voided (session epoch stamped)")


def _flush_wal(stack: Stack, timeout: float = 15.0) -> str | None:
    """When the old cluster still runs (a point-in-time restore after an operator's mistake), switch to a new
    WAL segment and wait until the current one is archived, as an operator would before replacing the
    cluster: recovery can then reach any target up to now. Returns the segment, None if there is no leader."""
    try:
        _, node = backups.leader(stack)
    except BackupError:
        return None
    code, segment = backups.psql(node, "select pg_walfile_name(pg_switch_wal())")
    if code != 0 or not segment:
        return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, archived = backups.psql(node, "select coalesce(last_archived_wal, '') from pg_stat_archiver")
        if code == 0 and archived_through(archived, segment):
            return segment
        time.sleep(0.3)
    return None


def archived_through(last_archived: str, segment: str) -> bool:
    """Whether the archiver's last file means `segment` is archived: only a plain WAL segment name counts
    (a backup label file `<start segment>.<offset>.backup` or a `.history` file says nothing about the
    segment itself); log and segment numbers are compared, the timeline ignored."""
    plain = len(last_archived) == 24 and all(ch in "0123456789ABCDEF" for ch in last_archived)
    return plain and last_archived[8:] >= segment[8:]


def _remove_db_nodes(stack: Stack) -> dict[str, dict]:
    """Remove every database node and its data volume; returns their published ports to reuse."""
    ports: dict[str, dict] = {}
    for service, c in backups.pg_containers(stack, running=False).items():
        ports[service] = backups.remove_db_node(stack.client, c)[0]
    return ports


def _clear_dcs(stack: Stack) -> None:
    """Forget the old cluster in etcd, so the new nodes bootstrap instead of waiting for the old leader."""
    etcds = [c for c in stack.containers().values() if c.labels.get(labels.ROLE) == "etcd" and c.status == "running"]
    errors = []
    for c in etcds:
        code, out = c.exec_run(["etcdctl", "--endpoints=http://127.0.0.1:2379", "--command-timeout=5s",
                                "del", "--prefix", DCS_PREFIX], environment={"ETCDCTL_API": "3"})
        if code == 0:
            return
        errors.append(out.decode(errors="replace").strip()[-200:])
    raise BackupError("cannot clear Patroni's state in etcd: " + ("; ".join(errors) or "no etcd node running"))


def writable(node) -> bool:
    code, out = backups.psql(node, "select pg_is_in_recovery()")
    return code == 0 and out == "f"


def _read_report(node) -> dict:
    code, out = node.exec_run(["cat", f"{backups.PG_DATA_MOUNT}/drills-restore.json"], user="postgres")
    try:
        return json.loads(out.decode(errors="replace")) if code == 0 else {}
    except ValueError:
        return {}


_LAST_TX = re.compile(r"(?:last completed transaction was at log time|recovery stopping before commit of "
                      r"transaction \d+, time) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d)")


def _recovered_to(node) -> float | None:
    """Commit time of the last transaction the restore replayed, from PostgreSQL's own recovery log line."""
    try:
        text = node.logs().decode(errors="replace")
    except APIError:
        return None
    found = _LAST_TX.findall(text)
    if not found:
        return None
    try:
        return dt.datetime.fromisoformat(found[-1]).timestamp()
    except ValueError:
        return None


_SET_FAILED = re.compile(r"drills-restore: set (\S+) failed: (.*)")


def _restore_errors(stack: Stack, res: RestoreResult | None = None) -> str:
    """What explains a failed restore, from the nodes' logs: each backup set that could not be restored and
    why (pgBackRest's own error), else PostgreSQL's and Patroni's error lines — not Python tracebacks."""
    skipped: dict[str, str] = {}
    other: list[str] = []
    for c in backups.pg_containers(stack, running=False).values():
        try:
            text = c.logs(tail=300).decode(errors="replace")
        except APIError:
            continue
        for ln in text.splitlines():
            found = _SET_FAILED.search(ln)
            if found:
                skipped.setdefault(found.group(1), found.group(2).strip()[:300])
            elif any(k in ln for k in ("FATAL", "ERROR:", "recovery ended before", "no backup set could")):
                line = ln.strip()[:240]
                if line not in other:  # every node tries the bootstrap in turn and says the same
                    other.append(line)
    if res is not None and skipped and not res.sets_skipped:
        res.sets_skipped = [{"set": k, "error": v} for k, v in skipped.items()]
    parts = [f"backup set {k} could not be restored: {v}" for k, v in skipped.items()]
    return " | ".join(parts + other[-3:]) or "(no explanation in the nodes' logs)"
