"""Password KDF, bearer tokens and sessions.

Passwords: scrypt (stdlib hashlib) with a random salt, stored as
``scrypt$N$r$p$salt$hash`` so parameters can change without breaking old
hashes. Hashing runs in a worker thread because it deliberately burns
~50 ms of CPU, which would otherwise stall every request on the event loop.

Tokens: ``secrets.token_urlsafe(32)`` handed to the client once; only the
SHA-256 is stored, so a database dump cannot be replayed as sessions.

A session is valid only while unrevoked, unexpired, minted for the user's
*current* credential_version -- the version check makes a password rotation
kill every older session even if a concurrent login slipped a row past the
rotation's revocation UPDATE -- and created after the newest session epoch.
A restore from backup stamps an epoch (table session_epochs) once the restored
cluster is writable: the restored database no longer knows which sessions the
lost password changes revoked, so every session it holds is void and everyone
logs in again (README, "Disaster recovery").
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .db import Database, Row, Tx
from .web import ApiError, overloaded

SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
SALT_BYTES = 16

#: What makes session row ``s`` of user row ``u`` live: the one definition, used by every query.
LIVE_SESSION = """s.revoked_at IS NULL AND s.expires_at > now()
   AND s.credential_version = u.credential_version
   AND s.created_at >= coalesce((SELECT max(e.sessions_not_before) FROM session_epochs e), '-infinity')"""

#: Returns the principal for a live session token (by digest).
SESSION_SQL = f"""
SELECT u.id, u.username, u.credential_version
  FROM sessions s
  JOIN users u ON u.id = s.user_id
 WHERE s.token_hash = %s
   AND {LIVE_SESSION}
"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    maxmem = 2 * 128 * n * r * p + (1 << 20)
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem)


def hash_password(password: str, n: int) -> str:
    """Derive a self-describing scrypt hash with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, n, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of *password* against an encoded scrypt hash."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        actual = _scrypt(password, salt, int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def new_token() -> str:
    """A fresh opaque bearer token (returned to the client, never stored)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    """What we store and look up instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def iso(ts: datetime) -> str:
    """Timestamps in responses: ISO-8601, UTC, always with microseconds
    (the audit endpoints render the identical text in SQL)."""
    return ts.astimezone(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Principal:
    """The authenticated user behind a bearer token."""

    user_id: int
    username: str
    credential_version: int

    def as_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "username": self.username, "credential_version": self.credential_version}


class HashGate:
    """Admission for scrypt work: at most *concurrency* computations at once, and a request that waited
    *queue_s* for its turn is refused with a definite 503 (Retry-After) instead of queued on.

    Without it every login joins an unbounded thread-pool queue: past the CPU's hashing rate the queue grows,
    clients time out and retry, and the replica keeps hashing for requests nobody waits for any more -- minutes
    after the load is gone (a metastable overload). Refusing early keeps the work bounded and tells the
    client the truth: nothing was written (every hash comes before its request's write), so the load records
    a definite failure, not an unknown outcome it would have to resolve with more logins."""

    def __init__(self, concurrency: int, queue_s: float):
        self.concurrency = concurrency
        self.queue_s = queue_s
        self.refused = 0
        self._slots: asyncio.Semaphore | None = None     # made on the event loop, at first use

    async def run(self, fn: Any, *args: Any) -> Any:
        """fn(*args) in a worker thread once a slot is free, or ApiError 503 after queue_s."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_s)
        except asyncio.TimeoutError:
            self.refused += 1
            raise overloaded("password hashing is saturated: nothing was changed, retry later") from None
        try:
            return await asyncio.to_thread(fn, *args)
        finally:
            self._slots.release()


class Authenticator:
    """Password hashing policy plus session lookup/creation/revocation."""

    def __init__(self, scrypt_n: int, session_ttl_s: int, hash_concurrency: int, hash_queue_s: float):
        self.scrypt_n = scrypt_n
        self.session_ttl_s = session_ttl_s
        self.gate = HashGate(hash_concurrency, hash_queue_s)
        # Verified against when the username does not exist, so a miss costs
        # the same scrypt time as a hit (no user-enumeration timing oracle).
        self._dummy_hash = hash_password(secrets.token_urlsafe(16), scrypt_n)

    async def hash(self, password: str) -> str:
        """hash_password off the event loop, through the gate."""
        return str(await self.gate.run(hash_password, password, self.scrypt_n))

    async def rehash(self, old: str, encoded: str, new: str) -> str | None:
        """The hash of `new` if `old` verifies against `encoded`, else None: a rotation's two scrypt runs in
        one turn at the gate, so it is never refused halfway, after the first was paid for."""

        def both() -> str | None:
            return hash_password(new, self.scrypt_n) if verify_password(old, encoded) else None

        result = await self.gate.run(both)
        return None if result is None else str(result)

    async def verify(self, password: str, encoded: str | None) -> bool:
        """verify_password off the event loop, through the gate; None verifies a dummy and fails."""
        if encoded is None:
            await self.gate.run(verify_password, password, self._dummy_hash)
            return False
        return bool(await self.gate.run(verify_password, password, encoded))

    @staticmethod
    async def principal(q: Tx, token: str) -> Principal:
        """Resolve a bearer token inside the caller's transaction, or 401."""
        row = await q.fetchone(SESSION_SQL, (token_digest(token),))
        if row is None:
            raise ApiError(401, "unauthorized", "unknown, expired or revoked session")
        return Principal(int(row[0]), row[1], int(row[2]))

    async def create_session(self, q: Tx, user_id: int, credential_version: int) -> dict[str, Any] | None:
        """Insert a session bound to *credential_version*; None if the user's
        credentials changed since the password was checked.

        FOR SHARE on the user row makes a concurrent rotation wait for this
        login to commit (and then revoke its session), so no login with the
        old password can complete after a rotation was acknowledged.
        """
        token = new_token()
        row = await q.fetchone(
            """
            INSERT INTO sessions (token_hash, user_id, credential_version, expires_at)
            SELECT %s, u.id, u.credential_version, now() + make_interval(secs => %s)
              FROM users u
             WHERE u.id = %s AND u.credential_version = %s
               FOR SHARE
            RETURNING expires_at, credential_version
            """,
            (token_digest(token), self.session_ttl_s, user_id, credential_version),
        )
        if row is None:
            return None
        return {"token": token, "expires_at": iso(row[0]), "user_id": user_id, "credential_version": int(row[1])}

    async def login(self, db: Database, username: str, password: str) -> dict[str, Any]:
        """Check the password and open a session (201 body) or raise 401."""

        async def lookup(q: Tx) -> Row | None:
            return await q.fetchone(
                "SELECT id, password_hash, credential_version FROM users WHERE username = %s", (username,)
            )

        row = await db.read("login_lookup", lookup)
        if not await self.verify(password, row[1] if row else None) or row is None:
            raise ApiError(401, "invalid_credentials", "unknown user or wrong password")
        user_id, version = int(row[0]), int(row[2])

        async def open_session(q: Tx) -> dict[str, Any]:
            session = await self.create_session(q, user_id, version)
            if session is None:  # password rotated between check and insert
                raise ApiError(401, "invalid_credentials", "credentials changed; try again")
            return session

        return await db.write("login", open_session)

    async def me(self, db: Database, token: str) -> Principal:
        """Read-only session check for GET /me."""

        async def body(q: Tx) -> Principal:
            return await self.principal(q, token)

        return await db.read("me", body)

    async def logout(self, db: Database, token: str) -> None:
        """Revoke exactly this session (401 if it is not live)."""

        async def body(q: Tx) -> None:
            row = await q.fetchone(
                f"""
                UPDATE sessions s SET revoked_at = now()
                  FROM users u
                 WHERE s.token_hash = %s AND u.id = s.user_id AND {LIVE_SESSION}
                RETURNING s.user_id
                """,
                (token_digest(token),),
            )
            if row is None:
                raise ApiError(401, "unauthorized", "unknown, expired or revoked session")

        await db.write("logout", body)
