"""Starlette application: routes, lifespan and the per-app service state.

Started as ``python3 -m uvicorn ticketing.app:app`` (one process per
replica). Everything stateful hangs off ``app.state.svc``; the module-level
``app`` is just ``create_app()`` with the process environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import audit, credentials, events
from .auth import Authenticator
from .config import Config
from .db import Database
from .guards import audit_refusal
from .metrics import Metrics, MetricsMiddleware
from .purchases import Purchases, parse_purchase, validate_key
from .schema import migrate_forever
from .web import ApiError, ReplicaHeaderMiddleware, bearer_token, endpoint, json_body, query_int


@dataclass
class Service:
    """Everything a request handler needs; one instance per app."""

    config: Config
    log: logging.Logger
    db: Database
    auth: Authenticator
    purchases: Purchases
    metrics: Metrics = field(default_factory=Metrics)
    migrated: bool = False
    migration_task: asyncio.Task[None] | None = field(default=None, repr=False)

    def mark_migrated(self) -> None:
        """Called once by the migration task; opens the DB endpoints."""
        self.migrated = True

    def require_migrated(self) -> None:
        """Until the schema exists every DB endpoint is a definite 503."""
        if not self.migrated:
            raise ApiError(503, "unavailable", "database schema not migrated yet")


def svc(request: Request) -> Service:
    """The Service of the app serving *request*."""
    service: Service = request.app.state.svc
    return service


class _OneLineFormatter(logging.Formatter):
    """libpq messages span lines; keep one log line per event for grep/parsers."""

    def format(self, record: logging.LogRecord) -> str:
        return " | ".join(part.strip() for part in super().format(record).splitlines() if part.strip())


def _logger(replica_id: str) -> logging.Logger:
    """One-line stdout logs tagged with the replica (never tokens/passwords)."""
    log = logging.getLogger("ticketing")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_OneLineFormatter(
            "%(asctime)s %(levelname)s replica=" + replica_id.replace("%", "%%") + " %(name)s %(message)s"
        ))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        pool_log = logging.getLogger("psycopg")
        pool_log.addHandler(handler)
        pool_log.setLevel(logging.WARNING)
        pool_log.propagate = False
    return log


# -- probes -----------------------------------------------------------------


async def healthz(request: Request) -> Response:
    """Liveness: the process answers, whatever the database is doing."""
    s = svc(request)
    return JSONResponse({"status": "ok", "replica": s.config.replica_id, "migrated": s.migrated})


@endpoint(write=False)
async def readyz(request: Request) -> Response:
    """Readiness: migrated and a writable (not in recovery) primary answers."""
    s = svc(request)
    reason = "not_migrated" if not s.migrated else await s.db.check_primary()
    body = {"ready": reason is None, "replica": s.config.replica_id}
    if reason is not None:
        body["reason"] = reason
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


async def metrics(request: Request) -> Response:
    """Prometheus scrape: request outcomes, latency and the pool (no database call, so it answers in an outage)."""
    s = svc(request)
    try:
        pool_stats: dict[str, int] | None = dict(s.db.pool.get_stats())
    except Exception:  # another psycopg_pool without get_stats(): the request metrics still matter
        pool_stats = None
    return Response(s.metrics.render(pool_stats, s.migrated, s.auth.gate.refused, s.db.refused),
                    media_type="text/plain; version=0.0.4; charset=utf-8")


# -- users & sessions -------------------------------------------------------


@endpoint(write=True)
async def create_user(request: Request) -> Response:
    """POST /users: validation happens before any DB work (cheap 422s)."""
    s = svc(request)
    data = await json_body(request)
    username = credentials.validate_username(data.get("username"))
    password = credentials.validate_password(data.get("password"))
    s.require_migrated()
    user = await credentials.register(s.db, s.auth, username, password)
    return JSONResponse(user, status_code=201)


@endpoint(write=True)
async def create_session(request: Request) -> Response:
    """POST /sessions: log in; a write (it inserts the session row)."""
    s = svc(request)
    data = await json_body(request)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(422, "invalid_request", "username and password are required strings")
    s.require_migrated()
    session = await s.auth.login(s.db, username, password)
    return JSONResponse(session, status_code=201)


@endpoint(write=True)
async def delete_current_session(request: Request) -> Response:
    """DELETE /sessions/current: revoke the presented token only."""
    s = svc(request)
    token = bearer_token(request)
    s.require_migrated()
    await s.auth.logout(s.db, token)
    return Response(status_code=204)


@endpoint(write=False)
async def me(request: Request) -> Response:
    """GET /me: lets clients (and drills) check a token is still honoured."""
    s = svc(request)
    token = bearer_token(request)
    s.require_migrated()
    principal = await s.auth.me(s.db, token)
    return JSONResponse(principal.as_json())


@endpoint(write=True)
async def change_password(request: Request) -> Response:
    """POST /users/me/password: rotate, revoke every session, return a new one."""
    s = svc(request)
    token = bearer_token(request)
    data = await json_body(request)
    old = data.get("old_password")
    if not isinstance(old, str):
        raise ApiError(422, "invalid_old_password", "old_password is required")
    new = credentials.validate_password(data.get("new_password"), "new_password")
    s.require_migrated()
    result = await credentials.change_password(s.db, s.auth, token, old, new)
    return JSONResponse(result)


# -- events & purchases -----------------------------------------------------


@endpoint(write=False)
async def list_events(request: Request) -> Response:
    """GET /events: inventory with live sold/available."""
    s = svc(request)
    s.require_migrated()
    return JSONResponse(await events.list_events(s.db))


@endpoint(write=False)
async def get_event(request: Request) -> Response:
    """GET /events/{id}."""
    s = svc(request)
    s.require_migrated()
    return JSONResponse(await events.get_event(s.db, request.path_params["event_id"]))


@endpoint(write=True)
async def purchase(request: Request) -> Response:
    """POST /events/{id}/purchases: 201 new order, 200 idempotent replay."""
    s = svc(request)
    token = bearer_token(request)
    key = validate_key(request.headers.get("idempotency-key"))
    req = parse_purchase(await json_body(request))
    s.require_migrated()
    order, replayed = await s.purchases.purchase(token, request.path_params["event_id"], key, req)
    if replayed:
        return JSONResponse(order, status_code=200, headers={"Idempotent-Replayed": "true"})
    return JSONResponse(order, status_code=201)


# -- audit (drill harness only: Bearer AUDIT_TOKEN) ------------------------------


def _audit_handler(kind: str) -> Route:
    @endpoint(write=False)
    async def handler(request: Request) -> Response:
        """Keyset page of *kind* for the post-drill audit; only for the holder of the audit token."""
        s = svc(request)
        refusal = audit_refusal(request.headers.get("authorization"), s.config.audit_token)
        if refusal is not None:
            raise ApiError(*refusal)
        after = query_int(request, "after", 0, 0, 2**63 - 1)
        limit = query_int(request, "limit", audit.DEFAULT_LIMIT, 1, audit.MAX_LIMIT)
        s.require_migrated()
        return Response(await audit.page(s.db, kind, after, limit), media_type="application/json")

    handler.__name__ = f"audit_{kind}"
    return Route(f"/audit/{kind}", handler, methods=["GET"])


# -- errors from the router (404/405) -----------------------------------------


async def http_exception(request: Request, exc: Exception) -> Response:
    """Router 404/405 in the same JSON error shape as everything else."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse({"error": code, "detail": exc.detail, "outcome": "fail"}, status_code=exc.status_code)


# -- assembly -------------------------------------------------------------------


def create_app(config: Config | None = None) -> Starlette:
    """Build the ASGI app; nothing touches the network until lifespan start."""
    config = config or Config.from_env()
    log = _logger(config.replica_id)
    db = Database(config, log)
    auth = Authenticator(config.scrypt_n, config.session_ttl_s, config.hash_concurrency, config.hash_queue_s)
    service = Service(config=config, log=log, db=db, auth=auth, purchases=Purchases(db))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.open()
        service.migration_task = asyncio.create_task(
            migrate_forever(db, config, log, service.mark_migrated), name="migrate"
        )
        log.info("started pool=%d..%d timeout=%.1fs",
                 config.db_pool_min, config.db_pool_max, config.request_db_timeout_s)
        try:
            yield
        finally:
            service.migration_task.cancel()
            with contextlib.suppress(BaseException):
                await service.migration_task
            await db.close()
            log.info("stopped")

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/users", create_user, methods=["POST"]),
        Route("/users/me/password", change_password, methods=["POST"]),
        Route("/sessions", create_session, methods=["POST"]),
        Route("/sessions/current", delete_current_session, methods=["DELETE"]),
        Route("/me", me, methods=["GET"]),
        Route("/events", list_events, methods=["GET"]),
        Route("/events/{event_id:int}", get_event, methods=["GET"]),
        Route("/events/{event_id:int}/purchases", purchase, methods=["POST"]),
        *(_audit_handler(kind) for kind in audit.KINDS),
    ]
    exception_handlers: dict[type, object] = {HTTPException: http_exception}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=exception_handlers)
    app.state.svc = service
    app.add_middleware(ReplicaHeaderMiddleware, replica_id=config.replica_id)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    return app


app = create_app()
