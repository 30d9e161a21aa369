"""Runtime configuration, read once from the environment.

Every knob has a default so a replica can start with nothing but
DATABASE_URL; drills and tests override them per container. Secrets come
only from the environment of the container (never from the image): the
database password as libpq's PGPASSWORD (so DATABASE_URL needs none and
never carries one), the audit token as AUDIT_TOKEN.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


class ConfigError(ValueError):
    """Raised for a malformed environment variable, so startup fails loudly."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Config:
    """Immutable settings for one API replica."""

    database_url: str
    replica_id: str
    hot_event_seats: int = 20000
    cold_events: int = 3
    cold_event_seats: int = 500
    db_pool_min: int = 2
    db_pool_max: int = 10
    request_db_timeout_s: float = 5.0
    #: A request that finds every pooled connection busy waits at most this long for one, then gets a definite
    #: 503 overloaded (nothing was sent): a bounded queue instead of transactions for clients that gave up.
    db_queue_s: float = 0.5
    session_ttl_s: int = 3600
    scrypt_n: int = 16384
    #: Password hashing is the API's one CPU-heavy step: at most this many scrypt computations at once per
    #: replica, and a request that waited hash_queue_s for its turn is refused (503, definite) instead of
    #: queued on: a backlog whose clients gave up would keep the CPU busy long after the load is gone.
    hash_concurrency: int = 1
    hash_queue_s: float = 0.5
    #: Zero-RPO backups: the application_name of the WAL stream into the backup repository that every write
    #: waits for after COMMIT (empty = no stream, acknowledge at COMMIT), and how long it waits.
    backup_stream: str = ""
    backup_stream_wait_s: float = 3.0
    #: Bearer token the /audit endpoints require; empty = audit endpoints closed (403).
    audit_token: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Build a Config from environment variables (see module docstring)."""
        env = os.environ if env is None else env
        scrypt_n = _int(env, "SCRYPT_N", 16384, 2)
        if scrypt_n & (scrypt_n - 1):
            raise ConfigError(f"SCRYPT_N must be a power of two, got {scrypt_n}")
        pool_min = _int(env, "DB_POOL_MIN", 2, 0)
        pool_max = _int(env, "DB_POOL_MAX", 10, 1)
        if pool_max < pool_min:
            raise ConfigError("DB_POOL_MAX must be >= DB_POOL_MIN")
        return cls(
            database_url=env.get("DATABASE_URL", ""),
            replica_id=env.get("REPLICA_ID", "") or os.uname().nodename,
            hot_event_seats=_int(env, "HOT_EVENT_SEATS", 20000, 1),
            cold_events=_int(env, "COLD_EVENTS", 3, 0),
            cold_event_seats=_int(env, "COLD_EVENT_SEATS", 500, 1),
            db_pool_min=pool_min,
            db_pool_max=pool_max,
            request_db_timeout_s=_float(env, "REQUEST_DB_TIMEOUT_S", 5.0, 0.1),
            db_queue_s=_float(env, "DB_QUEUE_S", cls.db_queue_s, 0.01),
            session_ttl_s=_int(env, "SESSION_TTL_S", 3600, 1),
            scrypt_n=scrypt_n,
            hash_concurrency=_int(env, "HASH_CONCURRENCY", cls.hash_concurrency, 1),
            hash_queue_s=_float(env, "HASH_QUEUE_S", cls.hash_queue_s, 0.01),
            backup_stream=env.get("BACKUP_STREAM", "").strip(),
            backup_stream_wait_s=_float(env, "BACKUP_STREAM_WAIT_S", 3.0, 0.01),
            audit_token=env.get("AUDIT_TOKEN", "").strip(),
        )
