"""An audit collection from one SQL query on a loopback database: PostgreSQL through psycopg, MySQL and MariaDB
through PyMySQL (`pip install 'drills[sql]'`; neither is needed by anything else).

The query runs in a read-only transaction: the audit looks, it never writes. Rows stream from a server-side
cursor (PostgreSQL) or an unbuffered one (MySQL), so a million rows do not sit in memory twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

from drills.platform.audit_source import ReadFailed, expand
from drills.scenario.audit_section import SqlRead
from drills.scenario.validate_audit import SQL_SCHEMES

CONNECT_TIMEOUT_S = 10
PAGE = 5000   # rows fetched at a time
_INSTALL = "pip install 'drills[sql]' (psycopg for PostgreSQL, PyMySQL for MySQL/MariaDB)"


def _flavour(dsn: str) -> str:
    scheme = dsn.split("://", 1)[0]
    if scheme not in SQL_SCHEMES:
        raise ReadFailed(f"{scheme}:// is not a database drills reads ({', '.join(SQL_SCHEMES)})")
    return "postgresql" if SQL_SCHEMES[scheme] == "PostgreSQL" else "mysql"


def sql_pages(src: SqlRead, env: Mapping[str, str]) -> Iterator[list[dict[str, Any]]]:
    """Every row of the query as {column: value} (JSON data: plain()), in pages of PAGE rows."""
    dsn = expand(src.dsn, env)
    cursors = _postgres_cursor if _flavour(dsn) == "postgresql" else _mysql_cursor
    with cursors(dsn, src.query) as cur:
        names = [d[0] for d in cur.description or ()]
        while rows := cur.fetchmany(PAGE):
            yield [{n: plain(v) for n, v in zip(names, row, strict=False)} for row in rows]


def explain(src: SqlRead, env: Mapping[str, str]) -> None:
    """Connect and EXPLAIN the query (the pre-flight: credentials, database, tables and columns exist)."""
    dsn = expand(src.dsn, env)
    if _flavour(dsn) == "postgresql":
        with _postgres(dsn) as conn, conn.cursor() as cur:
            cur.execute("EXPLAIN " + src.query)
    else:
        conn = _mysql(dsn)
        try:
            with conn.cursor() as cur:
                cur.execute("EXPLAIN " + src.query)
        finally:
            conn.close()


def _postgres(dsn: str) -> Any:
    try:
        import psycopg
    except ImportError:
        raise ReadFailed(f"reading PostgreSQL needs psycopg: {_INSTALL}") from None
    conn = psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S)
    conn.read_only = True
    return conn


@contextmanager
def _postgres_cursor(dsn: str, query: str) -> Iterator[Any]:
    """A server-side cursor on the query, in a read-only transaction."""
    with _postgres(dsn) as conn, conn.cursor(name="drills_audit") as cur:
        cur.execute(query)
        yield cur


def _mysql(dsn: str) -> Any:
    try:
        import pymysql
    except ImportError:
        raise ReadFailed(f"reading MySQL/MariaDB needs PyMySQL: {_INSTALL}") from None
    parts = urlsplit(dsn)
    return pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=unquote(parts.username or ""),
                           password=unquote(parts.password or ""), database=parts.path.strip("/"),
                           connect_timeout=CONNECT_TIMEOUT_S, cursorclass=pymysql.cursors.SSCursor)


@contextmanager
def _mysql_cursor(dsn: str, query: str) -> Iterator[Any]:
    """An unbuffered cursor on the query, in a read-only transaction."""
    conn = _mysql(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("START TRANSACTION READ ONLY")
            cur.execute(query)
            yield cur
    finally:
        conn.close()


def plain(v: Any) -> Any:
    """A database value as JSON data: Decimal as a number, a time as epoch seconds, bytes as text."""
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=timezone.utc).timestamp()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8", errors="replace")
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    return v
