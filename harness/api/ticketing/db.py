"""Connection pool, transaction runner and honest error classification.

The drills kill the PostgreSQL leader, partition the network and delay
packets, so every database call here answers one question for the client:
did the write happen?

* DefiniteFailure -- it certainly did not: the error came before COMMIT was
  sent, or the server answered COMMIT with an error that implies rollback.
* Indeterminate -- nobody knows: the connection broke or the request timed
  out while COMMIT was in flight, or the server committed locally but
  cancelled the wait for synchronous replication (the WARNING
  "canceling wait for synchronous replication ...", seen through a notice
  handler), so a failover may still lose the commit; or, with zero-RPO
  backups, the WAL stream into the backup repository did not confirm the
  commit in time, so a restore may still lose it.

Transactions are driven explicitly (autocommit connections + BEGIN/COMMIT
statements) so the runner always knows which of those cases applies, and
a connection whose protocol state is unknown is closed, never reused.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from .config import Config

# psycopg_pool retries a failed connection slot after 1 s, 2 s, 4 s ...: after a failover the pool may sit
# in that backoff while the new primary is already up, adding seconds of outage that are ours, not the
# database's. Retry sooner and back off more gently (still bounded by reconnect_timeout).
try:
    from psycopg_pool import base as _pool_base

    _pool_base.ConnectionAttempt.INITIAL_DELAY = 0.2
    _pool_base.ConnectionAttempt.DELAY_BACKOFF = 1.5
except (ImportError, AttributeError):  # another psycopg_pool layout: keep its defaults
    pass

T = TypeVar("T")
Row = tuple[Any, ...]
Params = Sequence[Any] | dict[str, Any] | None

#: conninfo keys we add unless DATABASE_URL already sets them. Short
#: connect timeout + read-write target so a replica or a dead leader is
#: rejected at connect time; keepalives so idle pooled sockets to a vanished
#: host fail fast instead of hanging the next request.
CONNINFO_DEFAULTS = {
    "connect_timeout": "2",
    "target_session_attrs": "read-write",
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "3",
}

#: Notice severities that, when received while COMMIT is in flight, mean
#: the commit may not be durable across a failover.
_ALARMING_SEVERITIES = {"WARNING", "ERROR", "FATAL", "PANIC"}

#: How much longer than BACKUP_STREAM_WAIT_S the client waits for the
#: server-side wait to answer before it cuts the connection.
BACKUP_STREAM_GRACE_S = 1.0

#: SQLSTATE classes that, as an ERROR answer to COMMIT on a healthy
#: connection, prove the server rolled the transaction back
#: (integrity violations from deferred constraints, serialization failures).
_CLEAN_COMMIT_ERROR_CLASSES = {"23", "40"}


class Phase(str, enum.Enum):
    """Where in a transaction's life an error happened."""

    ACQUIRE = "acquire"
    BEGIN = "begin"
    BODY = "body"
    COMMIT = "commit"
    ROLLBACK = "rollback"


class DbError(Exception):
    """A database problem that the HTTP layer reports as 503."""

    outcome = "fail"

    def __init__(self, op: str, phase: Phase, reason: str, cause: BaseException | None = None,
                 detail: str | None = None):
        super().__init__(f"{op}: {reason} during {phase.value}")
        self.op = op
        self.phase = phase
        self.reason = reason
        self.cause = cause
        #: what the client is told instead of the generic text (no user data, no SQL)
        self.detail = detail


class DefiniteFailure(DbError):
    """The operation certainly had no effect; safe to report as a failure."""

    outcome = "fail"


class Overloaded(DefiniteFailure):
    """Every pooled connection stayed busy for db_queue_s: refused before anything was sent (503 overloaded)."""


class Indeterminate(DbError):
    """A write's commit fate is unknown; the client must treat it as maybe-applied."""

    outcome = "info"


class _RetryOnFreshConnection(Exception):
    """Internal: the pooled connection was dead before we sent anything."""

    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


@dataclass
class Notice:
    """A server notice captured while a transaction ran (fields copied out,
    because psycopg's Diagnostic is only valid inside the callback)."""

    phase: Phase
    severity: str
    sqlstate: str | None
    message: str
    detail: str

    @property
    def threatens_commit(self) -> bool:
        """True for the sync-rep cancellation warning (or anything as bad)."""
        text = f"{self.message} {self.detail}".lower()
        if "synchronous replication" in text or "committed locally" in text:
            return True
        return self.phase is Phase.COMMIT and self.severity in _ALARMING_SEVERITIES


class Tx:
    """The handle a transaction body uses to talk to the database."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]):
        self.conn = conn
        self.rollback_only = False

    async def fetchone(self, sql: str, params: Params = None) -> Row | None:
        """Run a statement and return its first row (or None)."""
        cur = await self.conn.execute(sql, params)
        return await cur.fetchone()

    async def fetchall(self, sql: str, params: Params = None) -> list[Row]:
        """Run a statement and return all rows."""
        cur = await self.conn.execute(sql, params)
        return await cur.fetchall()

    async def execute(self, sql: str, params: Params = None) -> int:
        """Run a statement and return its row count."""
        cur = await self.conn.execute(sql, params)
        return cur.rowcount

    def finish_without_commit(self) -> None:
        """Mark that the body only read already-committed data (e.g. an
        idempotent replay): end with ROLLBACK so no commit fate can be unknown."""
        self.rollback_only = True


@dataclass
class _TxState:
    phase: Phase = Phase.BEGIN
    notices: list[Notice] = field(default_factory=list)


def build_conninfo(database_url: str, replica_id: str) -> str:
    """DATABASE_URL plus our failover-friendly defaults (explicit values win)."""
    params = conninfo_to_dict(database_url)
    for key, value in CONNINFO_DEFAULTS.items():
        params.setdefault(key, value)
    params.setdefault("application_name", f"ticketing-{replica_id}"[:63])
    return make_conninfo("", **params)


def is_connection_error(exc: BaseException, conn: psycopg.AsyncConnection[Any] | None) -> bool:
    """True when the error means the connection itself is gone (not a SQL error)."""
    if conn is not None and (conn.broken or conn.closed):
        return True
    if isinstance(exc, (pg_errors.AdminShutdown, pg_errors.CrashShutdown, pg_errors.CannotConnectNow)):
        return True
    return isinstance(exc, psycopg.OperationalError) and getattr(exc, "sqlstate", None) is None


def describe_error(exc: BaseException) -> str:
    """Error class + SQLSTATE (+ message for connection-level errors, which
    never contain user data) for one-line logs."""
    sqlstate = getattr(exc, "sqlstate", None)
    text = f"class={type(exc).__name__} sqlstate={sqlstate}"
    if sqlstate is None and isinstance(exc, psycopg.Error):
        msg = " ".join(str(exc).split())[:200]
        text += f' msg="{msg}"'
    return text


class Database:
    """Owns the pool and runs reads/writes with timeout and outcome classification."""

    def __init__(self, config: Config, logger: logging.Logger):
        self.config = config
        self.log = logger
        self.conninfo = build_conninfo(config.database_url, config.replica_id)
        self.timeout = config.request_db_timeout_s
        self.queue_s = config.db_queue_s
        self.refused = 0          # requests refused as Overloaded (ticketing_db_refused_total)
        # reconnect_timeout bounds psycopg_pool's exponential reconnect
        # backoff: a short value makes a failed slot give up quickly and be
        # regrown on demand, so the pool reconnects within ~2 s of the new
        # leader appearing instead of sleeping through a 32 s backoff step.
        self.pool = AsyncConnectionPool(
            self.conninfo,
            open=False,
            min_size=config.db_pool_min,
            max_size=config.db_pool_max,
            name=f"ticketing-{config.replica_id}",
            kwargs={"autocommit": True},
            configure=self._configure,
            timeout=self.timeout,
            reconnect_timeout=max(5.0, self.timeout),
            max_idle=300.0,
        )
        self._probe: psycopg.AsyncConnection[Any] | None = None
        self._probe_lock = asyncio.Lock()

    async def open(self) -> None:
        """Start the pool without waiting: the DB may well be down at boot."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        """Close the pool and probe connection (best effort; at shutdown)."""
        await self._drop_probe()
        await self.pool.close(timeout=2.0)

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Server-side timeouts mirror the client budget so abandoned backends
        (after we closed a timed-out socket) do not hold locks forever."""
        budget_ms = str(int(self.timeout * 1000))
        idle_ms = str(int(self.timeout * 2000))
        await conn.execute(
            "SELECT set_config('statement_timeout', %s, false),"
            " set_config('idle_in_transaction_session_timeout', %s, false)",
            (budget_ms, idle_ms),
        )

    async def connect_direct(self, timeout: float = 10.0) -> psycopg.AsyncConnection[Any]:
        """A non-pooled connection (for migrations), outside the request budget."""
        return await asyncio.wait_for(psycopg.AsyncConnection.connect(self.conninfo), timeout)

    # -- connection acquisition / release ----------------------------------

    def _remaining(self, deadline: float) -> float:
        return deadline - asyncio.get_running_loop().time()

    async def _acquire(self, op: str, deadline: float) -> psycopg.AsyncConnection[Any]:
        # Note: the pool's own timeout is used rather than cancelling getconn,
        # because cancelling a waiting getconn can leak a connection in 3.1.
        remaining = self._remaining(deadline)
        if remaining <= 0:
            raise self._fail(op, Phase.ACQUIRE, "timeout", None)
        bound = min(remaining, self.queue_s) if self._saturated() else remaining
        try:
            return await self.pool.getconn(timeout=bound)
        except PoolTimeout as exc:
            if bound < remaining:
                self.refused += 1
                raise Overloaded(op, Phase.ACQUIRE, "overloaded", exc,
                                 detail="every database connection is busy: nothing was changed, retry later") from None
            raise self._fail(op, Phase.ACQUIRE, "no_connection", exc) from None
        except PoolClosed as exc:
            raise self._fail(op, Phase.ACQUIRE, "pool_closed", exc) from None

    def _saturated(self) -> bool:
        """Every connection the pool may have exists and is lent out: a new request would queue behind busy
        transactions, not behind a reconnect. After an all-replica freeze such a queue held transactions
        whose clients had given up, each waiting on the hot event's row lock; the backlog kept every new
        request past its client's timeout and the clients' retries kept it full (tests/integration/test_load.py,
        the freeze test). Waiting there at most db_queue_s sheds that load instead."""
        try:
            stats = self.pool.get_stats()
        except Exception:  # another psycopg_pool layout: no shedding, the request budget still bounds the wait
            return False
        return stats.get("pool_size", 0) >= self.pool.max_size and stats.get("pool_available", 0) == 0

    async def _release(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Give a connection back; anything not cleanly IDLE is closed first so
        the pool discards it (psycopg_pool drops connections in BAD state)."""
        try:
            if not conn.closed and conn.pgconn.transaction_status != TransactionStatus.IDLE:
                await conn.close()
        finally:
            try:
                await self.pool.putconn(conn)
            except Exception as exc:  # pool closed or conn foreign: nothing to save
                self.log.warning("pool_putconn_failed %s", describe_error(exc))

    async def _rollback_or_close(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Roll back after a deliberate/SQL abort; close if that is not quick.

        Never raises (except cancellation): the outcome was already decided.
        """
        if conn.closed:
            return
        status = conn.pgconn.transaction_status
        if status == TransactionStatus.IDLE:
            return
        if status not in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
            await conn.close()
            return
        try:
            async with asyncio.timeout(1.0):
                await conn.execute("ROLLBACK")
        except asyncio.CancelledError:
            await conn.close()
            raise
        except Exception:
            await conn.close()

    # -- logging helpers ---------------------------------------------------

    def _fail(self, op: str, phase: Phase, reason: str, exc: BaseException | None) -> DefiniteFailure:
        self.log.warning(
            "db_error op=%s phase=%s outcome=fail reason=%s %s",
            op, phase.value, reason, describe_error(exc) if exc else "",
        )
        return DefiniteFailure(op, phase, reason, exc)

    def _unknown(
        self, op: str, phase: Phase, reason: str, exc: BaseException | None, detail: str | None = None
    ) -> Indeterminate:
        self.log.warning(
            "db_error op=%s phase=%s outcome=indeterminate reason=%s %s",
            op, phase.value, reason, describe_error(exc) if exc else "",
        )
        return Indeterminate(op, phase, reason, exc, detail)

    def _max_attempts(self) -> int:
        """How many connections one request may try when each dies at BEGIN.

        Retrying there is provably safe (only BEGIN was sent, on a socket
        that turned out dead), and after a failover *every* pooled
        connection is dead: allowing one attempt per pool slot lets a
        request drain the stale ones (each fails in microseconds) and reach
        a freshly opened connection instead of failing. Still bounded by
        the request's time budget.
        """
        return self.config.db_pool_max + 1

    # -- reads -------------------------------------------------------------

    async def read(self, op: str, body: Callable[[Tx], Awaitable[T]]) -> T:
        """Run read-only statements in autocommit mode.

        Reads have no side effects, so any failure is a DefiniteFailure and a
        connection-level failure is retried once on another connection.
        """
        deadline = asyncio.get_running_loop().time() + self.timeout
        attempts = self._max_attempts()
        for attempt in range(1, attempts + 1):
            conn = await self._acquire(op, deadline)
            try:
                async with asyncio.timeout(max(self._remaining(deadline), 0.001)):
                    return await body(Tx(conn))
            except TimeoutError as exc:
                await conn.close()
                raise self._fail(op, Phase.BODY, "timeout", exc) from None
            except psycopg.Error as exc:
                if is_connection_error(exc, conn):
                    await conn.close()
                    if attempt < attempts and self._remaining(deadline) > 0:
                        self.log.info("db_retry op=%s reason=dead_connection %s", op, describe_error(exc))
                        continue
                    raise self._fail(op, Phase.BODY, "connection_lost", exc) from None
                raise self._fail(op, Phase.BODY, "sql_error", exc) from None
            except BaseException:
                await self._rollback_or_close(conn)
                raise
            finally:
                await self._release(conn)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- writes ------------------------------------------------------------

    async def write(self, op: str, body: Callable[[Tx], Awaitable[T]]) -> T:
        """Run *body* in one BEGIN..COMMIT transaction and classify failures.

        Returns only when COMMIT is acknowledged without any warning (or the
        body asked for finish_without_commit). Exceptions raised by *body*
        that are not database errors (e.g. HTTP 4xx decisions) roll back and
        propagate unchanged. A dead pooled connection detected at BEGIN --
        before anything of this transaction was sent -- is retried on another
        connection (see _max_attempts).
        """
        deadline = asyncio.get_running_loop().time() + self.timeout
        attempts = self._max_attempts()
        for attempt in range(1, attempts + 1):
            conn = await self._acquire(op, deadline)
            try:
                return await self._run_tx(op, conn, body, deadline)
            except _RetryOnFreshConnection as retry:
                if attempt < attempts and self._remaining(deadline) > 0:
                    self.log.info("db_retry op=%s reason=dead_connection_at_begin %s", op, describe_error(retry.cause))
                    continue
                raise self._fail(op, Phase.BEGIN, "connection_lost", retry.cause) from None
            finally:
                await self._release(conn)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _run_tx(
        self,
        op: str,
        conn: psycopg.AsyncConnection[Any],
        body: Callable[[Tx], Awaitable[T]],
        deadline: float,
    ) -> T:
        state = _TxState()

        def on_notice(diag: pg_errors.Diagnostic) -> None:
            state.notices.append(
                Notice(
                    phase=state.phase,
                    severity=(diag.severity_nonlocalized or diag.severity or "").upper(),
                    sqlstate=diag.sqlstate,
                    message=diag.message_primary or "",
                    detail=diag.message_detail or "",
                )
            )

        conn.add_notice_handler(on_notice)
        tx = Tx(conn)
        try:
            async with asyncio.timeout(max(self._remaining(deadline), 0.001)):
                try:
                    await conn.execute("BEGIN")
                except psycopg.Error as exc:
                    if is_connection_error(exc, conn):
                        await conn.close()
                        raise _RetryOnFreshConnection(exc) from None
                    raise
                state.phase = Phase.BODY
                result = await body(tx)
                if not tx.rollback_only:
                    state.phase = Phase.COMMIT
                    cur = await conn.execute("COMMIT")
                    status = cur.statusmessage
            if tx.rollback_only:
                # The result is already-committed data; ending our (write-free)
                # transaction cannot change it, so rollback trouble is moot.
                # Replaying it is acknowledging it: with zero-RPO backups only
                # once the backup stream has it too.
                state.phase = Phase.ROLLBACK
                await self._rollback_or_close(conn)
                await self._await_backup_stream(op, conn)
                return result
            # COMMIT answered. Was it clean?
            alarming = [n for n in state.notices if n.threatens_commit]
            if alarming:
                n = alarming[0]
                self.log.warning(
                    "db_notice op=%s phase=%s severity=%s sqlstate=%s msg=%r",
                    op, n.phase.value, n.severity, n.sqlstate, n.message[:200],
                )
                raise self._unknown(op, Phase.COMMIT, "commit_not_replicated", None)
            if status != "COMMIT":
                # e.g. "ROLLBACK": the server had aborted the transaction.
                raise self._fail(op, Phase.COMMIT, f"commit_returned_{status}", None)
            await self._await_backup_stream(op, conn)
            return result
        except (_RetryOnFreshConnection, DbError):
            raise
        except TimeoutError as exc:
            await conn.close()
            if state.phase is Phase.COMMIT:
                raise self._unknown(op, state.phase, "timeout_during_commit", exc) from None
            raise self._fail(op, state.phase, "timeout", exc) from None
        except psycopg.Error as exc:
            healthy = not is_connection_error(exc, conn)
            if not healthy:
                await conn.close()
            elif state.phase is not Phase.COMMIT:
                await self._rollback_or_close(conn)
            raise self._classify(op, state.phase, exc, healthy) from None
        except asyncio.CancelledError:
            await conn.close()
            if state.phase is Phase.COMMIT:
                self._unknown(op, state.phase, "cancelled_during_commit", None)
            raise
        except BaseException:
            # Body decided to abort (HTTP 4xx) or hit a bug: never committed.
            if state.phase is Phase.COMMIT:
                await conn.close()
                raise self._unknown(op, state.phase, "unexpected_error_during_commit", None) from None
            await self._rollback_or_close(conn)
            raise
        finally:
            conn.remove_notice_handler(on_notice)

    # -- zero-RPO backups ----------------------------------------------------

    async def _await_backup_stream(self, op: str, conn: psycopg.AsyncConnection[Any]) -> None:
        """With zero-RPO backups on (BACKUP_STREAM), return only once the WAL
        stream into the backup repository has flushed this session's commit.

        The commit's position is read right after COMMIT in the same session
        (pg_current_wal_lsn() is at or past the end of its commit record,
        which COMMIT flushed) and handed to backup_stream.wait_flushed, which
        waits inside the server until the stream's flush_lsn has passed it
        (harness/images/postgres/post_bootstrap.sh): one round trip. In time:
        the write is acknowledged. Not in time, or the connection fails
        meanwhile: the write is committed in the cluster but not provably in
        the repository, so it is *not* acknowledged -- 503 indeterminate, like
        a cancelled wait for synchronous replication. A dead stream thus
        blocks every acknowledgement, as synchronous_mode_strict blocks
        commits without a standby.
        """
        app = self.config.backup_stream
        if not app:
            return
        wait_s = self.config.backup_stream_wait_s
        flushed = False
        try:
            async with asyncio.timeout(wait_s + BACKUP_STREAM_GRACE_S):  # the server gives up first
                cur = await conn.execute(
                    "SELECT backup_stream.wait_flushed(%s, pg_current_wal_lsn(), %s)", (app, int(wait_s * 1000))
                )
                row = await cur.fetchone()
                flushed = bool(row and row[0])
        except TimeoutError:
            await conn.close()  # the statement was cut off mid-flight
        except psycopg.Error as exc:
            if is_connection_error(exc, conn):
                await conn.close()
            raise self._unknown(
                op, Phase.COMMIT, "backup_stream_unknown", exc,
                detail="committed, but whether the backup repository's WAL stream has it could not be read:"
                " not acknowledged; it may or may not be applied",
            ) from None
        if not flushed:
            raise self._unknown(
                op, Phase.COMMIT, "backup_stream_timeout", None,
                detail=f"committed, but the backup repository's WAL stream did not confirm it within {wait_s:g} s:"
                " not acknowledged (a restore from backup could lose it); it may or may not be applied",
            )

    def _classify(self, op: str, phase: Phase, exc: psycopg.Error, healthy: bool) -> DbError:
        """Map a psycopg error in *phase* to a definite or unknown outcome."""
        if phase is Phase.COMMIT:
            sqlstate = getattr(exc, "sqlstate", None) or ""
            severity = (exc.diag.severity_nonlocalized or "").upper()
            if healthy and severity == "ERROR" and sqlstate[:2] in _CLEAN_COMMIT_ERROR_CLASSES:
                return self._fail(op, phase, "commit_rejected", exc)
            reason = "commit_error" if healthy else "connection_lost_during_commit"
            return self._unknown(op, phase, reason, exc)
        reason = "connection_lost" if not healthy else "sql_error"
        if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
            reason = "read_only_replica"
        elif isinstance(exc, (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)):
            reason = "conflict"
        elif isinstance(exc, pg_errors.QueryCanceled):
            reason = "cancelled"
        return self._fail(op, phase, reason, exc)

    # -- readiness ---------------------------------------------------------

    async def check_primary(self, timeout: float = 2.0) -> str | None:
        """Return None if a writable primary answers, else a short reason.

        Uses one dedicated probe connection rather than the pool, so a
        saturated pool under load does not make a healthy replica look
        unready; a broken probe connection is dropped and reopened.
        """
        try:
            async with asyncio.timeout(min(timeout, self.timeout)):
                async with self._probe_lock:
                    if self._probe is None or self._probe.closed:
                        self._probe = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                    cur = await self._probe.execute(
                        "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')"
                    )
                    row = await cur.fetchone()
        except TimeoutError:
            await self._drop_probe()
            return "timeout"
        except psycopg.Error:
            # Includes connect refusals and target_session_attrs rejecting
            # a replica ("session is read-only").
            await self._drop_probe()
            return "unreachable"
        if row is None or row[0]:
            return "in_recovery"
        if row[1] != "off":
            return "read_only"
        return None

    async def _drop_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            await probe.close()

