"""Request guards that need no framework: the body size cap and the audit token check.

Pure Python on purpose (no Starlette, no psycopg), so the drill harness's own unit tests run them without the
API's dependencies; web.py and app.py turn their verdicts into JSON errors.

Body cap: a body is never buffered beyond `limit` + 1 bytes. A declared Content-Length over the limit is
refused before one byte is read; a chunked (or lying) body is refused as soon as it passes the limit.

Audit token: the container gets the token itself in AUDIT_TOKEN (the harness derives it:
drills/platform/ticketing.py `derive_audit_token`, HMAC-SHA256 of a secret); the API only compares, in
constant time. Without AUDIT_TOKEN the audit endpoints are closed, never open.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterable


class BodyRejected(Exception):
    """The body cannot be accepted; `status` and `code` are what the client gets."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


async def read_capped(content_length: str | None, chunks: AsyncIterable[bytes], limit: int) -> bytes:
    """The whole body, or BodyRejected (413 when over `limit`, 400 for a malformed Content-Length)."""
    if content_length is not None:
        declared = content_length.strip()
        if not declared.isdigit():
            raise BodyRejected(400, "invalid_content_length", "Content-Length must be a decimal number")
        if int(declared) > limit:
            raise BodyRejected(413, "body_too_large", f"at most {limit} bytes")
    body = bytearray()
    async for chunk in chunks:
        body += chunk[: limit + 1 - len(body)]  # never hold more than limit + 1 bytes
        if len(body) > limit:
            raise BodyRejected(413, "body_too_large", f"at most {limit} bytes")
    return bytes(body)


def audit_refusal(authorization: str | None, expected: str) -> tuple[int, str, str] | None:
    """None when `authorization` is "Bearer <expected>"; else (status, code, detail) of the refusal."""
    if not expected:
        return 403, "audit_disabled", "the audit endpoints are off: AUDIT_TOKEN is not set"
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        return 401, "unauthorized", "the audit endpoints need the audit token (Authorization: Bearer)"
    return None
