"""User registration and password rotation.

Rotation is the credential-safety property the drills check: once a
rotation is acknowledged (200), the old password must never log in again
and every session minted before it must fail. That holds because one
transaction swaps the hash, bumps credential_version and revokes all live
sessions -- and sessions are only honoured for the current version.
"""

from __future__ import annotations

import re
from typing import Any

from .auth import LIVE_SESSION, SESSION_SQL, Authenticator, token_digest
from .db import Database, Tx
from .web import ApiError

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
ROTATION_ATTEMPTS = 3


def validate_username(value: Any) -> str:
    """1-64 chars of [A-Za-z0-9_.@-] or 422."""
    if not isinstance(value, str) or not USERNAME_RE.match(value):
        raise ApiError(422, "invalid_username", "username must be 1-64 characters of A-Z a-z 0-9 _ . @ -")
    return value


def validate_password(value: Any, field: str = "password") -> str:
    """8-1024 characters or 422 (content is never echoed back)."""
    if not isinstance(value, str) or not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise ApiError(422, f"invalid_{field}", f"{field} must be {PASSWORD_MIN}-{PASSWORD_MAX} characters")
    return value


async def register(db: Database, auth: Authenticator, username: str, password: str) -> dict[str, Any]:
    """Create a user (201 body) or raise 409 if the name is taken."""
    password_hash = await auth.hash(password)

    async def body(q: Tx) -> dict[str, Any]:
        row = await q.fetchone(
            """
            INSERT INTO users (username, password_hash) VALUES (%s, %s)
            ON CONFLICT (username) DO NOTHING
            RETURNING id, credential_version
            """,
            (username, password_hash),
        )
        if row is None:
            raise ApiError(409, "username_taken", "username already registered")
        return {"user_id": int(row[0]), "username": username, "credential_version": int(row[1])}

    return await db.write("register", body)


class _StaleCredentials(Exception):
    """The user's credential_version moved between our check and our update."""


async def change_password(
    db: Database, auth: Authenticator, token: str, old_password: str, new_password: str
) -> dict[str, Any]:
    """Rotate the password atomically and return a fresh session.

    The scrypt work happens outside the transaction (no locks held for
    ~100 ms); the UPDATE is conditional on the credential_version we
    verified against, so a concurrent rotation makes us re-check instead
    of accepting a password that is no longer current.
    """
    digest = token_digest(token)
    for _ in range(ROTATION_ATTEMPTS):
        user_id, version, current_hash = await _current_credentials(db, digest)
        new_hash = await auth.rehash(old_password, current_hash, new_password)
        if new_hash is None:
            raise ApiError(401, "invalid_credentials", "old password is wrong")

        # Defaults bind this attempt's values: the transaction may be retried, but never with another attempt's.
        async def body(q: Tx, new_hash: str = new_hash, user_id: int = user_id, version: int = version,
                       ) -> dict[str, Any]:
            row = await q.fetchone(
                f"""
                UPDATE users u
                   SET password_hash = %s,
                       credential_version = u.credential_version + 1,
                       password_changed_at = now()
                 WHERE u.id = %s AND u.credential_version = %s
                   AND EXISTS (SELECT 1 FROM sessions s
                                WHERE s.token_hash = %s AND s.user_id = u.id AND {LIVE_SESSION})
                RETURNING u.credential_version
                """,
                (new_hash, user_id, version, digest),
            )
            if row is None:
                raise _StaleCredentials()
            new_version = int(row[0])
            await q.execute(
                "UPDATE sessions SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
                (user_id,),
            )
            session = await auth.create_session(q, user_id, new_version)
            if session is None:  # impossible: we hold the users row lock
                raise _StaleCredentials()
            return session

        try:
            session = await db.write("change_password", body)
        except _StaleCredentials:
            continue
        return {
            "user_id": user_id,
            "credential_version": session["credential_version"],
            "token": session["token"],
            "expires_at": session["expires_at"],
        }
    raise ApiError(409, "concurrent_rotation", "credentials changed concurrently; retry")


async def _current_credentials(db: Database, digest: bytes) -> tuple[int, int, str]:
    """(user_id, credential_version, password_hash) for a live session, or 401."""

    async def body(q: Tx) -> tuple[int, int, str]:
        row = await q.fetchone(
            f"SELECT p.id, p.credential_version, u.password_hash FROM ({SESSION_SQL}) p"
            " JOIN users u ON u.id = p.id",
            (digest,),
        )
        if row is None:
            raise ApiError(401, "unauthorized", "unknown, expired or revoked session")
        return int(row[0]), int(row[1]), row[2]

    return await db.read("credentials_lookup", body)
