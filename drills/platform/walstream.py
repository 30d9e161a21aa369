"""Zero-RPO backups on the reference stack: the synchronous WAL stream into the backup repository — its state,
and handing its WAL to the archive before a restore.

Why it is built this way. Patroni (3.0.x here) in synchronous_mode owns `synchronous_standby_names` and names
only cluster members in it (patroni/postgresql/config.py, sync.py; upstream declined external synchronous
standbys, patroni#1836). So a `pg_receivewal --synchronous` cannot be one of the standbys COMMIT waits for
without giving up Patroni's failover guarantee (synchronous_mode off) or fighting Patroni over the setting
(ALTER SYSTEM, rewritten at its next loop). Instead Patroni keeps synchronous mode for failover, and the API
makes each acknowledgement wait for the repository explicitly: after COMMIT it reads the commit's position
and answers only once this stream's `flush_lsn` (the leader's pg_stat_replication, application_name
WALSTREAM_SLOT) has passed it, else 503 indeterminate (harness/api/ticketing/db.py). A dead stream thus blocks
acknowledgements, as synchronous_mode_strict blocks commits without a standby.

The stream (harness/images/postgres/walstream.sh) runs in a container of its own beside the cluster, with the
repository volume, so it outlives a lost cluster. It finds the leader through the members' Patroni REST API,
streams through a permanent slot Patroni keeps on whichever node leads (bootstrap.dcs.slots), and follows a
failover along the new timeline.

Before a restore rebuilds the cluster, `hand_over` pushes the stream's WAL (completed segments and the padded
.partial one under its segment's name) into the pgBackRest archive, so recovery replays up to the last
acknowledged commit, and empties the stream's directory for the restored cluster's new timeline.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from docker.errors import APIError, NotFound

from drills.platform import backups
from drills.platform.backups import BackupError
from drills.platform.stack_spec import WALSTREAM, WALSTREAM_SLOT

if TYPE_CHECKING:
    from drills.platform.stack import Stack

STREAMING, BEHIND, DOWN = "streaming", "behind", "down"
# More unflushed WAL than one segment: the stream is catching up (after a reconnect, or too slow), and the
# writes it holds back wait. A few kB in flight under load is normal and still "streaming".
BEHIND_BYTES = 16 * 2**20
STATE_SQL = ("SELECT state, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn), -1)::bigint "
             f"FROM pg_stat_replication WHERE application_name = '{WALSTREAM_SLOT}'")
PUSH_TIMEOUT_S = 300


@dataclass(frozen=True)
class StreamState:
    """What `drill stack status` shows for the stream: streaming, behind or down, and why."""

    state: str
    lag_bytes: int | None = None
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.state == STREAMING


def classify(psql_output: str) -> StreamState:
    """The stream's state from STATE_SQL's rows (`state|lag` per line) on the leader."""
    rows = [ln.split("|") for ln in psql_output.splitlines() if "|" in ln]
    if not rows:
        return StreamState(DOWN, None, f"no {WALSTREAM_SLOT} connection on the leader")
    best: tuple[str, int] | None = None
    for row in rows:
        try:
            candidate = (row[0], int(row[1]))
        except (ValueError, IndexError):
            continue
        if best is None or (candidate[0] == "streaming", -candidate[1]) > (best[0] == "streaming", -best[1]):
            best = candidate
    if best is None:
        return StreamState(DOWN, None, f"unreadable pg_stat_replication row: {psql_output[:120]}")
    state, lag = best
    if state != "streaming":
        return StreamState(BEHIND, lag if lag >= 0 else None, f"replication state {state}")
    if lag < 0:
        return StreamState(BEHIND, None, "streaming, nothing flushed yet")
    if lag > BEHIND_BYTES:
        return StreamState(BEHIND, lag, f"{lag / 2**20:.1f} MiB not flushed yet")
    return StreamState(STREAMING, lag, f"flush lag {lag} B")


def container(stack: Stack):
    """The stream's container, or None (no zero-RPO backups, or removed)."""
    return stack.containers().get(WALSTREAM)


def state(stack: Stack, leader_node) -> StreamState:
    """Ask the leader (a running database container) how far the stream has flushed."""
    c = container(stack)
    if c is None:
        return StreamState(DOWN, None, "no walstream container")
    if c.status != "running":
        return StreamState(DOWN, None, f"walstream container {c.status}")
    if leader_node is None:
        return StreamState(DOWN, None, "no leader to stream from")
    try:
        code, out = backups.psql(leader_node, STATE_SQL)
    except APIError as exc:
        return StreamState(DOWN, None, f"leader cannot be asked: {getattr(exc, 'explanation', None) or exc}")
    if code != 0:
        return StreamState(DOWN, None, f"leader cannot be asked (psql exit {code}): {out[-160:]}")
    return classify(out)


@dataclass(frozen=True)
class HandOver:
    """What a restore's hand-over pushed: counts from drills-walstream-push and the newest segment."""

    pushed: int
    already: int
    differs: int
    last: str
    started_stream: bool          # the stream's container was not running and was started for the push
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def parse_push_report(output: str) -> dict:
    """The JSON summary drills-walstream-push prints last."""
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except ValueError:
                break
            if isinstance(found, dict):
                return found
            break
    raise BackupError(f"the WAL stream's push printed no summary: {output[-300:]}")


def hand_over(stack: Stack) -> HandOver:
    """Push the stream's WAL into the archive and empty its directory (see the module docstring). Raises
    BackupError when that fails: restoring without it would drop acknowledged writes silently."""
    t0 = time.monotonic()
    c = container(stack)
    if c is None:
        raise BackupError(f"zero-RPO backups are on but stack {stack.name!r} has no {WALSTREAM} container")
    started = False
    try:
        if c.status != "running":  # a dead stream: its files are still in the repository
            c.start()
            started = True
        code, raw = c.exec_run(["timeout", str(PUSH_TIMEOUT_S), "/usr/local/bin/drills-walstream-push"],
                               user="postgres")
    except (APIError, NotFound) as exc:
        raise BackupError(f"the WAL stream's push could not run: {getattr(exc, 'explanation', None) or exc}") \
            from None
    out = raw.decode(errors="replace")
    report = parse_push_report(out)
    if code != 0 or report.get("failed"):
        lines = [ln for ln in out.splitlines() if "drills-walstream-push" in ln]
        raise BackupError("the WAL stream's files could not all be pushed into the archive (exit "
                          f"{code}): {(lines[-1] if lines else out[-300:]).strip()}")
    return HandOver(pushed=int(report.get("pushed", 0)), already=int(report.get("already", 0)),
                    differs=int(report.get("differs", 0)), last=str(report.get("last", "")),
                    started_stream=started, seconds=round(time.monotonic() - t0, 3))
