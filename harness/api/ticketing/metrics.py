"""Prometheus metrics of one API replica, on GET /metrics (text exposition format 0.0.4).

What the alert rules need from the service itself: every request's outcome by operation (the route's handler
name: purchase, create_session, me, ...) and status class, its latency as a histogram, and the state of the
database pool. Hand-rolled rather than prometheus_client: a few counters need no dependency, and the image
installs nothing new.

Recorded by a pure ASGI middleware (like ReplicaHeaderMiddleware: never BaseHTTPMiddleware, which could
cancel a handler mid-COMMIT). The operation is read from the scope after routing (Starlette's router writes
the matched endpoint into it); a request no route matched is `other`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: Latency buckets (seconds): a purchase is milliseconds of SQL; a failover makes seconds (request timeout 5 s).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Series that exist from the start, so a rate() of errors is 0, not "no data", before the first error.
PRESET = (("purchase", "2xx"), ("purchase", "4xx"), ("purchase", "5xx"))
#: psycopg_pool's get_stats() keys -> (metric, type, help)
POOL_STATS = {
    "pool_size": ("ticketing_db_pool_size", "gauge", "Connections in the pool (busy and idle)."),
    "pool_available": ("ticketing_db_pool_available", "gauge", "Idle connections ready to be handed out."),
    "requests_waiting": ("ticketing_db_pool_requests_waiting", "gauge", "Requests waiting for a connection."),
    "pool_min": ("ticketing_db_pool_min", "gauge", "Configured minimum pool size."),
    "pool_max": ("ticketing_db_pool_max", "gauge", "Configured maximum pool size."),
    "connections_errors": ("ticketing_db_pool_connection_errors_total", "counter",
                           "Failed attempts to open a database connection."),
    "connections_lost": ("ticketing_db_pool_connections_lost_total", "counter",
                         "Pooled connections found broken."),
}


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "5xx"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Counters and histograms of one process. Updated from the event loop only, so no lock."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = dict.fromkeys(PRESET, 0)
        self.histograms: dict[str, list[float]] = {}   # op -> [count per bucket..., +Inf count, sum]

    def observe(self, operation: str, status: int, seconds: float) -> None:
        key = (operation, status_class(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.histograms.get(operation)
        if hist is None:
            hist = self.histograms[operation] = [0.0] * (len(BUCKETS) + 2)
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                hist[i] += 1
                break
        else:
            hist[len(BUCKETS)] += 1
        hist[-1] += seconds

    def render(self, pool_stats: dict[str, int] | None = None, migrated: bool | None = None,
               hash_refused: int | None = None, db_refused: int | None = None) -> str:
        out = ["# HELP ticketing_requests_total Requests answered, by operation (route handler) and status class.",
               "# TYPE ticketing_requests_total counter"]
        for (op, cls), n in sorted(self.requests.items()):
            out.append(f'ticketing_requests_total{{operation="{_escape(op)}",status_class="{cls}"}} {n}')
        out += ["# HELP ticketing_request_duration_seconds Time from request to the end of the response.",
                "# TYPE ticketing_request_duration_seconds histogram"]
        for op, hist in sorted(self.histograms.items()):
            label = f'operation="{_escape(op)}"'
            cumulative = 0.0
            for bound, count in zip((*BUCKETS, float("inf")), hist[:-1], strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                out.append(f'ticketing_request_duration_seconds_bucket{{{label},le="{le}"}} {int(cumulative)}')
            out.append(f"ticketing_request_duration_seconds_sum{{{label}}} {hist[-1]:.6f}")
            out.append(f"ticketing_request_duration_seconds_count{{{label}}} {int(cumulative)}")
        for key, (name, kind, help_text) in POOL_STATS.items():
            if pool_stats is not None and (key in pool_stats or kind == "counter"):
                out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {pool_stats.get(key, 0)}"]
        if hash_refused is not None:
            out += ["# HELP ticketing_hash_refused_total Requests refused (503 overloaded) because every password "
                    "hashing slot stayed busy for HASH_QUEUE_S.",
                    "# TYPE ticketing_hash_refused_total counter", f"ticketing_hash_refused_total {hash_refused}"]
        if db_refused is not None:
            out += ["# HELP ticketing_db_refused_total Requests refused (503 overloaded) because every pooled database "
                    "connection stayed busy for DB_QUEUE_S.",
                    "# TYPE ticketing_db_refused_total counter", f"ticketing_db_refused_total {db_refused}"]
        if migrated is not None:
            out += ["# HELP ticketing_schema_migrated 1 once the schema is migrated (database endpoints open).",
                    "# TYPE ticketing_schema_migrated gauge", f"ticketing_schema_migrated {int(migrated)}"]
        return "\n".join(out) + "\n"


def operation_of(scope: dict[str, Any]) -> str:
    """The matched route's handler name (set by the router into the scope), else `other`."""
    endpoint = scope.get("endpoint")
    name = getattr(endpoint, "__name__", None)
    return name if isinstance(name, str) and name else "other"


class MetricsMiddleware:
    """Pure ASGI middleware: times each HTTP request and counts its status (500 when the app raised)."""

    def __init__(self, app: Callable[..., Any], metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.observe(operation_of(scope), status, time.monotonic() - started)
