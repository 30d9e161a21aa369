"""Database-free unit tests for the ticketing service.

Run from harness/api:  python3 -m unittest discover -s tests -v
(or pytest). Skipped where psycopg/starlette are not installed.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

if not all(importlib.util.find_spec(m) for m in ("psycopg", "psycopg_pool", "starlette")):  # pragma: no cover
    raise unittest.SkipTest("psycopg / psycopg_pool / starlette not installed")

import psycopg  # noqa: E402
from ticketing import auth, purchases  # noqa: E402
from ticketing.config import Config, ConfigError  # noqa: E402
from ticketing.db import Notice, Phase, build_conninfo, is_connection_error  # noqa: E402
from ticketing.web import ApiError  # noqa: E402


class ConfigTest(unittest.TestCase):
    def test_defaults(self) -> None:
        c = Config.from_env({"DATABASE_URL": "host=db", "REPLICA_ID": "api1"})
        self.assertEqual((c.hot_event_seats, c.cold_events, c.cold_event_seats), (20000, 3, 500))
        self.assertEqual((c.db_pool_min, c.db_pool_max, c.request_db_timeout_s), (2, 10, 5.0))
        self.assertEqual((c.session_ttl_s, c.scrypt_n, c.replica_id), (3600, 16384, "api1"))

    def test_rejects_bad_values(self) -> None:
        for env in ({"SCRYPT_N": "1000"}, {"DB_POOL_MIN": "5", "DB_POOL_MAX": "2"}, {"HOT_EVENT_SEATS": "x"}):
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


if __name__ == "__main__":
    unittest.main()
