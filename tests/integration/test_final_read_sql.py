"""An audit's final read from a real PostgreSQL (psycopg): a throwaway server in a container of the stack's own
postgres image, published on 127.0.0.1, removed afterwards. Needs `pip install 'drills[sql]'`."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from drills.platform.final_read import check_reads, read_collection
from drills.scenario.audit_section import AuditSection, FieldSpec, ReadSpec, SetModel, SqlRead, WriteSpec

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.integration

NAME = f"drills-audit-sqltest-{os.getpid()}"
SETUP = ("CREATE TABLE orders (id serial PRIMARY KEY, key text UNIQUE, amount numeric(10,2), "
         "created timestamptz DEFAULT now()); INSERT INTO orders (key, amount) SELECT 'k' || n, n * 1.5 "
         "FROM generate_series(1, 2500) n;")


@pytest.fixture(scope="module")
def dsn(docker_client) -> Iterator[str]:
    script = ("initdb -D /tmp/pg -U drill --auth=trust >/dev/null && echo 'host all all all trust' >> "
              "/tmp/pg/pg_hba.conf && exec postgres -D /tmp/pg -c listen_addresses='*'")
    c = docker_client.containers.run("drills/postgres:latest", ["-c", script], entrypoint="bash", name=NAME,
                                     detach=True, ports={"5432/tcp": ("127.0.0.1", None)},
                                     labels={"drills.test": "audit-sql"})
    try:
        c.reload()
        port = c.attrs["NetworkSettings"]["Ports"]["5432/tcp"][0]["HostPort"]
        url = f"postgresql://drill@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 60
        while True:
            try:
                with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
                    conn.execute(SETUP)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield url
    finally:
        c.remove(force=True)


def spec(dsn: str, query: str) -> ReadSpec:
    return ReadSpec("orders", SqlRead(dsn=dsn, query=query),
                    {"key": FieldSpec("key"), "id": FieldSpec("id", "text"), "amount": FieldSpec("amount"),
                     "created": FieldSpec("created", "time")})


def test_every_row_streams_into_columns(dsn: str) -> None:
    c = read_collection(spec(dsn, "SELECT id, key, amount, created FROM orders ORDER BY id"), None, {})
    assert c.complete and c.error is None and c.rows == 2500
    assert c.columns["key"][:2] == ["k1", "k2"] and c.columns["id"][0] == "1"
    assert c.columns["amount"][:2] == [1.5, 3] and abs(c.columns["created"][0] - time.time()) < 600
    assert c.source.startswith("postgresql query on 127.0.0.1:")


def test_the_query_runs_read_only(dsn: str) -> None:
    writes = "SELECT nextval('orders_id_seq') AS id, 'x' AS key, 1 AS amount, now() AS created"   # a sequence moves
    c = read_collection(spec(dsn, writes), None, {})
    assert not c.complete and "cannot execute nextval() in a read-only transaction" in (c.error or "")


def test_the_pre_flight_explains_the_query(dsn: str) -> None:
    audit = AuditSection(writes={"w": WriteSpec("w")}, models=(SetModel("orders", id="key"),),
                         reads={"orders": spec(dsn, "SELECT id, key, amount, created FROM order_table")})
    problems = check_reads(audit, None, {})
    assert len(problems) == 1 and 'relation "order_table" does not exist' in problems[0]
    ok = AuditSection(writes=audit.writes, models=audit.models,
                      reads={"orders": spec(dsn, "SELECT id, key, amount, created FROM orders")})
    assert check_reads(ok, None, {}) == []
