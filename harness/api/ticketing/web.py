"""HTTP plumbing: JSON errors, outcome headers, request parsing, X-Replica.

The drill's history checker reads every response as ok / fail / info, so
this module is where database outcomes become status codes:

* ApiError (4xx; 503 when password hashing is saturated, auth.HashGate)
                            -> the request was rejected, nothing changed.
* db.DefiniteFailure        -> 503 {"error": "unavailable", "outcome": "fail"}
  (db.Overloaded: every pooled connection stayed busy for DB_QUEUE_S ->
   503 {"error": "overloaded", "outcome": "fail"}, Retry-After: 1)
* db.Indeterminate          -> 503 {"error": "indeterminate", "outcome": "info"}
                               plus header X-Outcome: indeterminate
* anything unexpected       -> 500; for write endpoints marked "info" too,
                               because we cannot prove nothing committed.
"""

from __future__ import annotations

import functools
import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .db import DbError, Indeterminate, Overloaded
from .guards import BodyRejected, read_capped

Handler = Callable[[Request], Awaitable[Response]]

MAX_BODY_BYTES = 64 * 1024


class ApiError(Exception):
    """A client-visible rejection; raising it inside a transaction rolls it back."""

    def __init__(self, status: int, code: str, detail: str = "", headers: dict[str, str] | None = None,
                 **extra: Any):
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers
        self.extra = extra

    def response(self) -> JSONResponse:
        """Render as {"error": code, "detail": ..., **extra} with outcome=fail."""
        body: dict[str, Any] = {"error": self.code, "detail": self.detail, "outcome": "fail"}
        body.update(self.extra)
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def overloaded(detail: str) -> ApiError:
    """The API's one answer to a request refused for want of capacity (a hashing slot, a pooled connection)
    before it changed anything: 503 {"error": "overloaded", "outcome": "fail"}, Retry-After: 1."""
    return ApiError(503, "overloaded", detail, headers={"Retry-After": "1"})


def db_error_response(exc: DbError) -> JSONResponse:
    """503 for database trouble; indeterminate ones carry X-Outcome."""
    if isinstance(exc, Indeterminate):
        return JSONResponse(
            {
                "error": "indeterminate",
                "outcome": "info",
                "detail": exc.detail or f"{exc.reason}: the write may or may not have been applied",
                "reason": exc.reason,
            },
            status_code=503,
            headers={"X-Outcome": "indeterminate"},
        )
    if isinstance(exc, Overloaded):
        return overloaded(exc.detail or exc.reason).response()
    return JSONResponse(
        {"error": "unavailable", "outcome": "fail", "detail": exc.reason},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def endpoint(*, write: bool) -> Callable[[Handler], Handler]:
    """Wrap a handler so every exception becomes a proper JSON response.

    *write* says whether the handler may commit: an unexpected exception
    there is reported as indeterminate, never as a plain failure.
    """

    def decorate(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def wrapper(request: Request) -> Response:
            try:
                return await fn(request)
            except ApiError as exc:
                return exc.response()
            except DbError as exc:  # already logged by the db layer
                return db_error_response(exc)
            except Exception as exc:
                log = logging.getLogger("ticketing")
                # Class and code locations only: messages could echo input.
                frames = traceback.extract_tb(exc.__traceback__)[-4:]
                where = ";".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in frames)
                log.error("unhandled_error route=%s class=%s at=%s", request.url.path, type(exc).__name__, where)
                headers = {"X-Outcome": "indeterminate"} if write else {}
                return JSONResponse(
                    {"error": "internal", "outcome": "info" if write else "fail", "detail": type(exc).__name__},
                    status_code=500,
                    headers=headers,
                )

        return wrapper

    return decorate


async def json_body(request: Request) -> dict[str, Any]:
    """Parse a JSON object body or raise 422; never buffers more than MAX_BODY_BYTES + 1 (413 past it)."""
    try:
        raw = await read_capped(request.headers.get("content-length"), request.stream(), MAX_BODY_BYTES)
    except BodyRejected as exc:
        raise ApiError(exc.status, exc.code, exc.detail) from None
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, "invalid_json", "body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_json", "body must be a JSON object")
    return data


def bearer_token(request: Request) -> str:
    """Extract the Bearer token or raise 401 (the token itself is never logged)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        raise ApiError(401, "unauthorized", "missing or malformed bearer token")
    return token


def query_int(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    """Parse an integer query parameter within bounds or raise 422."""
    raw: str | None = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, "invalid_parameter", f"{name} must be an integer") from None
    if not minimum <= value <= maximum:
        raise ApiError(422, "invalid_parameter", f"{name} must be between {minimum} and {maximum}")
    return value


class ReplicaHeaderMiddleware:
    """Pure ASGI middleware adding X-Replica to every HTTP response.

    Deliberately not BaseHTTPMiddleware: that one runs the handler in a task
    group that can cancel it on client disconnect -- mid-COMMIT.
    """

    def __init__(self, app: ASGIApp, replica_id: str):
        self.app = app
        self.header = (b"x-replica", replica_id.encode("latin-1", "replace"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append(self.header)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)
