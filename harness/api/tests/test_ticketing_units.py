"""Database-free unit tests for the ticketing service.

Run from harness/api:  python3 -m unittest discover -s tests -v
(or pytest). Skipped where psycopg/starlette are not installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import sys
import unittest
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

if not all(importlib.util.find_spec(m) for m in ("psycopg", "psycopg_pool", "starlette")):  # pragma: no cover
    raise unittest.SkipTest("psycopg / psycopg_pool / starlette not installed")

import psycopg  # noqa: E402
from psycopg_pool import PoolTimeout  # noqa: E402
from ticketing import auth, purchases, schema  # noqa: E402
from ticketing.app import create_app  # noqa: E402
from ticketing.config import Config, ConfigError  # noqa: E402
from ticketing.db import (  # noqa: E402
    Database,
    DefiniteFailure,
    Indeterminate,
    Notice,
    Overloaded,
    Phase,
    build_conninfo,
    is_connection_error,
)
from ticketing.web import ApiError, db_error_response  # noqa: E402


class ConfigTest(unittest.TestCase):
    def test_hash_gate_settings(self) -> None:
        c = Config.from_env({"HASH_CONCURRENCY": "3", "HASH_QUEUE_S": "0.5"})
        self.assertEqual((c.hash_concurrency, c.hash_queue_s), (3, 0.5))
        for env in ({"HASH_CONCURRENCY": "0"}, {"HASH_QUEUE_S": "x"}):
            with self.assertRaises(ConfigError):
                Config.from_env(env)

    def test_defaults(self) -> None:
        c = Config.from_env({"DATABASE_URL": "host=db", "REPLICA_ID": "api1"})
        self.assertEqual((c.hot_event_seats, c.cold_events, c.cold_event_seats), (20000, 3, 500))
        self.assertEqual((c.db_pool_min, c.db_pool_max, c.request_db_timeout_s), (2, 10, 5.0))
        self.assertEqual((c.session_ttl_s, c.scrypt_n, c.replica_id), (3600, 16384, "api1"))

    def test_audit_token_comes_from_the_environment_and_is_never_shown(self) -> None:
        c = Config.from_env({"AUDIT_TOKEN": " tok3n ", "REPLICA_ID": "api1"})
        self.assertEqual(c.audit_token, "tok3n")
        self.assertNotIn("tok3n", repr(c))
        self.assertEqual(Config.from_env({"REPLICA_ID": "api1"}).audit_token, "")

    def test_db_queue_setting(self) -> None:
        self.assertEqual(Config.from_env({"REPLICA_ID": "api1"}).db_queue_s, Config.db_queue_s)
        self.assertEqual(Config.from_env({"DB_QUEUE_S": "0.25"}).db_queue_s, 0.25)

    def test_rejects_bad_values(self) -> None:
        for env in ({"SCRYPT_N": "1000"}, {"DB_POOL_MIN": "5", "DB_POOL_MAX": "2"}, {"HOT_EVENT_SEATS": "x"},
                    {"DB_QUEUE_S": "0"}):
            with self.assertRaises(ConfigError):
                Config.from_env(env)


class PasswordTest(unittest.TestCase):
    def test_roundtrip_and_encoding(self) -> None:
        h = auth.hash_password("correct horse", 1024)
        self.assertTrue(h.startswith("scrypt$1024$8$1$"))
        self.assertNotIn("correct horse", h)
        self.assertTrue(auth.verify_password("correct horse", h))
        self.assertFalse(auth.verify_password("correct horsE", h))
        self.assertNotEqual(h, auth.hash_password("correct horse", 1024))  # random salt

    def test_malformed_hash_never_verifies(self) -> None:
        for bad in ("", "plain", "bcrypt$1$2$3$4$5", "scrypt$x$8$1$AA==$AA=="):
            self.assertFalse(auth.verify_password("pw", bad))

    def test_tokens(self) -> None:
        t = auth.new_token()
        self.assertGreaterEqual(len(t), 43)
        self.assertNotEqual(t, auth.new_token())
        self.assertEqual(len(auth.token_digest(t)), 32)


class HashGateTest(unittest.TestCase):
    """Bounded scrypt work: a request that cannot get a hashing slot in time is refused, definitely."""

    def test_a_request_that_waits_too_long_is_refused_and_nothing_queues_on(self) -> None:
        import threading

        gate = auth.HashGate(concurrency=1, queue_s=0.05)
        release = threading.Event()
        done: list[str] = []

        def slow(tag: str) -> str:
            release.wait(5)
            done.append(tag)
            return tag

        async def scenario() -> tuple[Any, Any, str]:
            first = asyncio.ensure_future(gate.run(slow, "first"))
            await asyncio.sleep(0.01)
            second = await asyncio.gather(gate.run(slow, "second"), return_exceptions=True)
            release.set()
            got = await first
            third = await gate.run(lambda: "third")
            return second[0], got, third

        refused, first, third = asyncio.run(scenario())
        self.assertIsInstance(refused, ApiError)
        self.assertEqual((refused.status, refused.code), (503, "overloaded"))
        response = refused.response()
        self.assertEqual(json.loads(response.body)["outcome"], "fail")     # definite: the load records a fail
        self.assertEqual(response.headers["retry-after"], "1")
        self.assertEqual((first, third, done, gate.refused), ("first", "third", ["first"], 1))

    def test_concurrency_slots_run_side_by_side(self) -> None:
        import threading

        gate = auth.HashGate(concurrency=2, queue_s=1.0)
        both = threading.Barrier(2, timeout=2)

        async def scenario() -> list[int]:
            return list(await asyncio.gather(gate.run(both.wait), gate.run(both.wait)))

        self.assertEqual(sorted(asyncio.run(scenario())), [0, 1])     # neither waited for the other to end
        self.assertEqual(gate.refused, 0)

    def test_authenticator_hashes_and_verifies_through_the_gate(self) -> None:
        a = auth.Authenticator(1024, 60, hash_concurrency=1, hash_queue_s=1.0)

        async def scenario() -> tuple[bool, bool, bool]:
            h = await a.hash("pw-1")
            return await a.verify("pw-1", h), await a.verify("pw-2", h), await a.verify("pw-1", None)

        self.assertEqual(asyncio.run(scenario()), (True, False, False))
        self.assertEqual(a.gate.refused, 0)

    def test_a_rotation_checks_and_hashes_in_one_turn(self) -> None:
        a = auth.Authenticator(1024, 60, hash_concurrency=1, hash_queue_s=1.0)
        old = auth.hash_password("old-pw", 1024)
        turns: list[Any] = []
        run = a.gate.run

        async def counted(fn: Any, *args: Any) -> Any:
            turns.append(fn)
            return await run(fn, *args)

        a.gate.run = counted  # type: ignore[method-assign]

        async def scenario() -> tuple[str | None, str | None]:
            return await a.rehash("old-pw", old, "new-pw"), await a.rehash("wrong", old, "new-pw")

        new, refused = asyncio.run(scenario())
        self.assertTrue(new is not None and auth.verify_password("new-pw", new))
        self.assertIsNone(refused)
        self.assertEqual(len(turns), 2)          # one turn per rotation, not one per scrypt run


class PurchaseParsingTest(unittest.TestCase):
    def test_valid(self) -> None:
        self.assertEqual(purchases.parse_purchase({"quantity": 4}).quantity, 4)
        req = purchases.parse_purchase({"seats": [3, 1]})
        self.assertEqual((req.seats, req.quantity), ((3, 1), 2))

    def test_invalid(self) -> None:
        bad = [{}, {"seats": [1], "quantity": 1}, {"quantity": 0}, {"quantity": 5}, {"quantity": True},
               {"quantity": "2"}, {"seats": []}, {"seats": [1, 2, 3, 4, 5]}, {"seats": [1, 1]}, {"seats": "1"},
               {"seats": [1.5]}]
        for body in bad:
            with self.assertRaises(ApiError) as cm:
                purchases.parse_purchase(body)
            self.assertEqual(cm.exception.status, 422, body)

    def test_request_hash(self) -> None:
        a = purchases.parse_purchase({"seats": [1, 2]})
        b = purchases.parse_purchase({"seats": [2, 1]})
        q = purchases.parse_purchase({"quantity": 2})
        self.assertEqual(purchases.request_hash(1, 1, a), purchases.request_hash(1, 1, b))
        self.assertNotEqual(purchases.request_hash(1, 1, a), purchases.request_hash(2, 1, a))
        self.assertNotEqual(purchases.request_hash(1, 1, a), purchases.request_hash(1, 2, a))
        self.assertNotEqual(purchases.request_hash(1, 1, a), purchases.request_hash(1, 1, q))

    def test_request_hash_prefix_is_what_the_server_completes(self) -> None:
        """The claim statement hashes prefix || user_id || '}': that must be request_hash's text exactly, or
        every retry after an upgrade would be refused as a key reuse."""
        import hashlib

        for body in ({"quantity": 1}, {"quantity": 4}, {"seats": [7]}, {"seats": [30, 2, 11, 5]}):
            req = purchases.parse_purchase(body)
            for user_id in (1, 42, 9_007_199_254_740_993):
                for event_id in (1, 2_147_483_647):
                    text = purchases.request_hash_prefix(event_id, req) + str(user_id) + "}"
                    self.assertEqual(hashlib.sha256(text.encode()).hexdigest(),
                                     purchases.request_hash(user_id, event_id, req), (body, user_id, event_id))

    def test_idempotency_key(self) -> None:
        for missing in (None, "", "  "):
            with self.assertRaises(ApiError) as cm:
                purchases.validate_key(missing)
            self.assertEqual(cm.exception.status, 400)
        with self.assertRaises(ApiError):
            purchases.validate_key("k" * 201)
        self.assertEqual(purchases.validate_key("abc"), "abc")


class OutcomeClassificationTest(unittest.TestCase):
    def test_sync_rep_warning_is_indeterminate(self) -> None:
        n = Notice(Phase.COMMIT, "WARNING", "01000", "canceling wait for synchronous replication due to user request",
                   "The transaction has already committed locally, but might not have been replicated to the standby.")
        self.assertTrue(n.threatens_commit)
        # Localised text still counts: any WARNING while COMMIT is in flight.
        self.assertTrue(Notice(Phase.COMMIT, "WARNING", "01000", "annulation ...", "").threatens_commit)
        self.assertFalse(Notice(Phase.COMMIT, "NOTICE", "00000", "something benign", "").threatens_commit)
        self.assertFalse(Notice(Phase.BODY, "WARNING", "01000", "something benign", "").threatens_commit)

    def test_connection_errors(self) -> None:
        self.assertTrue(is_connection_error(psycopg.OperationalError("server closed the connection"), None))
        self.assertTrue(is_connection_error(psycopg.errors.AdminShutdown(), None))
        self.assertFalse(is_connection_error(psycopg.errors.UniqueViolation(), None))
        self.assertFalse(is_connection_error(psycopg.errors.QueryCanceled(), None))

    def test_conninfo_defaults_do_not_override(self) -> None:
        info = psycopg.conninfo.conninfo_to_dict(build_conninfo("host=h port=1 connect_timeout=7", "api1"))
        self.assertEqual(info["connect_timeout"], "7")
        self.assertEqual(info["target_session_attrs"], "read-write")
        self.assertEqual(info["application_name"], "ticketing-api1")


class Asgi:
    """One request straight into the ASGI app: no server, no lifespan, so no database (DB endpoints answer
    503 'not migrated', which proves a request got past everything that comes before the database)."""

    def __init__(self, audit_token: str = "") -> None:
        self.app = create_app(Config(database_url="host=nowhere", replica_id="t", scrypt_n=1024,
                                     audit_token=audit_token))
        self.reads = 0

    def call(self, method: str, path: str, headers: dict[str, str] | None = None,
             chunks: tuple[bytes, ...] = (b"",), query: str = "") -> tuple[int, dict[str, Any]]:
        self.reads = 0
        messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                    for i, c in enumerate(chunks)]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if self.reads < len(messages):
                self.reads += 1
                return messages[self.reads - 1]
            await asyncio.sleep(30)  # the app must never wait for a body it was not sent
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000),
                 "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
        asyncio.run(asyncio.wait_for(self.app(scope, receive, send), 10))
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return status, json.loads(body or b"{}")


class AuditAuthTest(unittest.TestCase):
    def test_audit_endpoints_need_the_token(self) -> None:
        api = Asgi(audit_token="s3cret-token")
        for kind in ("orders", "tickets", "credentials", "events"):
            self.assertEqual(api.call("GET", f"/audit/{kind}")[0], 401)
            self.assertEqual(api.call("GET", f"/audit/{kind}", {"Authorization": "Bearer wrong"})[0], 401)
            self.assertEqual(api.call("GET", f"/audit/{kind}", {"Authorization": "Basic s3cret-token"})[0], 401)
            status, body = api.call("GET", f"/audit/{kind}", {"Authorization": "Bearer s3cret-token"})
            self.assertEqual((status, body["error"]), (503, "unavailable"))  # past the check: not migrated

    def test_authorization_comes_before_parameter_checks(self) -> None:
        self.assertEqual(Asgi(audit_token="t").call("GET", "/audit/orders", query="limit=0")[0], 401)

    def test_without_a_configured_token_the_audit_is_closed(self) -> None:
        status, body = Asgi().call("GET", "/audit/orders", {"Authorization": "Bearer "})
        self.assertEqual((status, body["error"]), (403, "audit_disabled"))

    def test_other_endpoints_do_not_want_the_audit_token(self) -> None:
        self.assertEqual(Asgi(audit_token="t").call("GET", "/healthz")[0], 200)


class BodyLimitTest(unittest.TestCase):
    USER = json.dumps({"username": "alice", "password": "correct horse"}).encode()

    def test_declared_oversize_body_is_refused_unread(self) -> None:
        api = Asgi()
        status, body = api.call("POST", "/users", {"Content-Length": str(10**9)}, chunks=(b"x" * 1024,) * 3)
        self.assertEqual((status, body["error"], api.reads), (413, "body_too_large", 0))

    def test_chunked_body_is_cut_off_past_the_limit(self) -> None:
        api = Asgi()
        status, body = api.call("POST", "/users", {"Transfer-Encoding": "chunked"}, chunks=(b" " * 16384,) * 40)
        self.assertEqual((status, body["error"]), (413, "body_too_large"))
        self.assertEqual(api.reads, 5)  # 4 x 16 KiB fit in 64 KiB; the fifth passes it: nothing more is read

    def test_body_longer_than_declared_is_still_capped(self) -> None:
        api = Asgi()
        status, _ = api.call("POST", "/users", {"Content-Length": "10"}, chunks=(b" " * 65536, b" " * 65536))
        self.assertEqual((status, api.reads), (413, 2))

    def test_malformed_content_length(self) -> None:
        self.assertEqual(Asgi().call("POST", "/users", {"Content-Length": "-1"}, chunks=(self.USER,))[0], 400)

    def test_a_normal_body_gets_through(self) -> None:
        api = Asgi()
        half = len(self.USER) // 2
        status, body = api.call("POST", "/users", {"Transfer-Encoding": "chunked"},
                                chunks=(self.USER[:half], self.USER[half:], b""))
        self.assertEqual((status, body["error"]), (503, "unavailable"))  # validated; the database is next
        limit = Asgi().call("POST", "/users", {"Content-Length": str(65536)}, chunks=(b" " * 65536,))
        self.assertEqual(limit[0], 422)  # exactly the limit is read (and is not JSON)


class IdempotencySchemaTest(unittest.TestCase):
    def test_keys_are_unique_per_user_not_globally(self) -> None:
        ddl = " ".join(schema.DDL.split())
        self.assertIn("CONSTRAINT orders_one_key_per_user UNIQUE (user_id, idempotency_key)", ddl)
        self.assertNotIn("idempotency_key text NOT NULL UNIQUE", ddl)
        self.assertIn("DROP CONSTRAINT orders_idempotency_key_key", ddl)  # databases of older versions


class _Cursor:
    def __init__(self, row: Any) -> None:
        self.row = row

    async def fetchone(self) -> Any:
        return self.row


class _Conn:
    """What the zero-RPO wait asks of a connection: one statement, and close when it cut one off."""

    def __init__(self, answer: Any = True, delay: float = 0.0, error: Exception | None = None) -> None:
        self.answer, self.delay, self.error = answer, delay, error
        self.statements: list[tuple[str, Any]] = []
        self.closed = self.broken = False

    async def execute(self, sql: str, params: Any = None) -> _Cursor:
        self.statements.append((sql, params))
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return _Cursor((self.answer,))

    async def close(self) -> None:
        self.closed = True


class BackupStreamWaitTest(unittest.TestCase):
    """Zero-RPO backups: a write is acknowledged only once the WAL stream into the backup repository has it."""

    def wait(self, conn: _Conn, stream: str = "drills_walstream", wait_s: float = 0.05) -> None:
        db = Database(Config(database_url="host=nowhere", replica_id="t", backup_stream=stream,
                             backup_stream_wait_s=wait_s), logging.getLogger("test"))
        asyncio.run(db._await_backup_stream("purchase", conn))  # type: ignore[arg-type]

    def test_without_a_stream_nothing_is_asked(self) -> None:
        conn = _Conn()
        self.wait(conn, stream="")
        self.assertEqual(conn.statements, [])

    def test_the_commit_position_is_handed_to_the_servers_wait_in_one_statement(self) -> None:
        conn = _Conn(answer=True)
        self.wait(conn, wait_s=2.5)
        [(sql, params)] = conn.statements
        self.assertIn("backup_stream.wait_flushed(%s, pg_current_wal_lsn(), %s)", sql)
        self.assertEqual(params, ("drills_walstream", 2500))
        self.assertFalse(conn.closed)

    def test_not_flushed_in_time_is_indeterminate_never_acknowledged(self) -> None:
        conn = _Conn(answer=False)
        with self.assertRaises(Indeterminate) as cm:
            self.wait(conn)
        self.assertEqual(cm.exception.reason, "backup_stream_timeout")
        self.assertFalse(conn.closed)  # the server answered: the connection is fine
        response = db_error_response(cm.exception)
        body = json.loads(response.body)
        self.assertEqual((response.status_code, response.headers["X-Outcome"]), (503, "indeterminate"))
        self.assertEqual((body["outcome"], body["reason"]), ("info", "backup_stream_timeout"))
        self.assertIn("not acknowledged", body["detail"])

    def test_a_server_that_does_not_answer_is_cut_off(self) -> None:
        conn = _Conn(delay=5.0)
        with self.assertRaises(Indeterminate) as cm:
            self.wait(conn, wait_s=0.01)
        self.assertEqual(cm.exception.reason, "backup_stream_timeout")
        self.assertTrue(conn.closed)

    def test_a_lost_connection_meanwhile_is_indeterminate(self) -> None:
        conn = _Conn(error=psycopg.OperationalError("server closed the connection unexpectedly"))
        with self.assertRaises(Indeterminate) as cm:
            self.wait(conn)
        self.assertEqual(cm.exception.reason, "backup_stream_unknown")
        self.assertTrue(conn.closed)


if __name__ == "__main__":
    unittest.main()


class _BusyPool:
    """A pool whose getconn never finds a connection: records the wait it was given."""

    max_size = 10

    def __init__(self, size: int, available: int) -> None:
        self.stats = {"pool_size": size, "pool_available": available}
        self.waits: list[float] = []

    def get_stats(self) -> dict[str, int]:
        return dict(self.stats)

    async def getconn(self, timeout: float) -> Any:
        self.waits.append(timeout)
        await asyncio.sleep(0)
        raise PoolTimeout("couldn't get a connection")


class PoolAdmissionTest(unittest.TestCase):
    """A request that finds every pooled connection busy waits DB_QUEUE_S, then is refused definitely."""

    def acquire(self, pool: _BusyPool) -> tuple[Database, BaseException]:
        db = Database(Config(database_url="host=nowhere", replica_id="t", db_queue_s=0.2), logging.getLogger("t"))
        db.pool = pool  # type: ignore[assignment]

        async def scenario() -> BaseException:
            try:
                await db._acquire("purchase", asyncio.get_running_loop().time() + 5.0)
            except BaseException as exc:  # noqa: BLE001 - the test looks at what came out
                return exc
            raise AssertionError("acquired from a pool that has nothing")

        return db, asyncio.run(scenario())

    def test_a_saturated_pool_sheds_after_the_queue_bound(self) -> None:
        pool = _BusyPool(size=10, available=0)
        db, exc = self.acquire(pool)
        self.assertIsInstance(exc, Overloaded)
        self.assertEqual(pool.waits, [0.2])
        self.assertEqual(db.refused, 1)
        response = db_error_response(exc)  # type: ignore[arg-type]
        self.assertEqual((response.status_code, response.headers["retry-after"]), (503, "1"))
        self.assertEqual(json.loads(response.body)["error"], "overloaded")
        self.assertEqual(json.loads(response.body)["outcome"], "fail")

    def test_a_growing_pool_waits_the_whole_budget(self) -> None:
        """Below max_size the wait is a reconnect (after a failover, say), not a queue of busy transactions."""
        pool = _BusyPool(size=4, available=0)
        db, exc = self.acquire(pool)
        self.assertIsInstance(exc, DefiniteFailure)
        self.assertNotIsInstance(exc, Overloaded)
        self.assertEqual(exc.reason, "no_connection")  # type: ignore[attr-defined]
        self.assertGreater(pool.waits[0], 4.0)
        self.assertEqual(db.refused, 0)

