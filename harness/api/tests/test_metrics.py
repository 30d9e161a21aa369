"""The API's /metrics without Starlette or a database: the middleware on a bare ASGI app, the exposition text.

Run from harness/api:  python3 -m unittest discover -s tests -v   (or pytest); needs nothing but Python.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import unittest
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from ticketing.metrics import BUCKETS, Metrics, MetricsMiddleware, status_class  # noqa: E402


def purchase() -> None:
    """Stands in for the route handler the router writes into the scope."""


async def _call(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _app(status: int | None, endpoint: Any = purchase, delay: float = 0.0) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["endpoint"] = endpoint           # what Starlette's router does on a match
        if delay:
            await asyncio.sleep(delay)
        if status is None:
            raise RuntimeError("boom")
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
    return app


def _value(text: str, series: str) -> float:
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    assert m is not None, f"{series} not in:\n{text}"
    return float(m.group(1))


class MetricsTest(unittest.TestCase):
    def test_purchase_error_series_exist_before_any_request(self) -> None:
        text = Metrics().render()
        for cls in ("2xx", "4xx", "5xx"):
            self.assertEqual(_value(text, f'ticketing_requests_total{{operation="purchase",status_class="{cls}"}}'), 0)

    def test_outcomes_are_counted_by_operation_and_status_class(self) -> None:
        m = Metrics()
        for status in (201, 200, 409, 503, 503):
            asyncio.run(_call(MetricsMiddleware(_app(status), m), {"type": "http", "path": "/x"}))
        asyncio.run(_call(MetricsMiddleware(_app(404, endpoint=None), m), {"type": "http"}))
        text = m.render()
        self.assertEqual(_value(text, 'ticketing_requests_total{operation="purchase",status_class="2xx"}'), 2)
        self.assertEqual(_value(text, 'ticketing_requests_total{operation="purchase",status_class="4xx"}'), 1)
        self.assertEqual(_value(text, 'ticketing_requests_total{operation="purchase",status_class="5xx"}'), 2)
        self.assertEqual(_value(text, 'ticketing_requests_total{operation="other",status_class="4xx"}'), 1)

    def test_an_app_that_raises_counts_as_a_server_error_and_still_raises(self) -> None:
        m = Metrics()
        with self.assertRaises(RuntimeError):
            asyncio.run(_call(MetricsMiddleware(_app(None), m), {"type": "http"}))
        self.assertEqual(_value(m.render(), 'ticketing_requests_total{operation="purchase",status_class="5xx"}'), 1)

    def test_histogram_is_cumulative_and_counts_match(self) -> None:
        m = Metrics()
        for seconds in (0.001, 0.02, 0.02, 3.0, 60.0):
            m.observe("purchase", 201, seconds)
        text = m.render()
        series = 'ticketing_request_duration_seconds_bucket{operation="purchase",le="%s"}'
        self.assertEqual(_value(text, series % "0.005"), 1)
        self.assertEqual(_value(text, series % "0.025"), 3)
        self.assertEqual(_value(text, series % "5"), 4)
        self.assertEqual(_value(text, series % "+Inf"), 5)
        self.assertEqual(_value(text, 'ticketing_request_duration_seconds_count{operation="purchase"}'), 5)
        self.assertAlmostEqual(_value(text, 'ticketing_request_duration_seconds_sum{operation="purchase"}'), 63.041)
        buckets = re.findall(r'le="([^"]+)"', text)
        self.assertEqual(buckets, [f"{b:g}" for b in BUCKETS] + ["+Inf"])

    def test_latency_is_measured_around_the_app(self) -> None:
        m = Metrics()
        asyncio.run(_call(MetricsMiddleware(_app(201, delay=0.03), m), {"type": "http"}))
        self.assertGreaterEqual(_value(m.render(), 'ticketing_request_duration_seconds_sum{operation="purchase"}'),
                                0.03)

    def test_pool_state_and_migration_are_exposed(self) -> None:
        text = Metrics().render({"pool_size": 4, "pool_available": 1, "requests_waiting": 2, "pool_max": 10},
                                migrated=True)
        self.assertEqual(_value(text, "ticketing_db_pool_size"), 4)
        self.assertEqual(_value(text, "ticketing_db_pool_requests_waiting"), 2)
        self.assertEqual(_value(text, "ticketing_db_pool_connection_errors_total"), 0)
        self.assertEqual(_value(text, "ticketing_schema_migrated"), 1)
        self.assertTrue(text.endswith("\n"))

    def test_hashing_refusals_are_exposed(self) -> None:
        text = Metrics().render(hash_refused=3)
        self.assertEqual(_value(text, "ticketing_hash_refused_total"), 3)
        self.assertIn("# TYPE ticketing_hash_refused_total counter", text)
        self.assertNotIn("ticketing_hash_refused_total", Metrics().render())

    def test_db_refusals_are_a_counter_when_known(self) -> None:
        text = Metrics().render(db_refused=7)
        self.assertEqual(_value(text, "ticketing_db_refused_total"), 7)
        self.assertIn("# TYPE ticketing_db_refused_total counter", text)
        self.assertNotIn("ticketing_db_refused_total", Metrics().render())

    def test_websocket_and_lifespan_scopes_pass_through_uncounted(self) -> None:
        m = Metrics()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            return None

        asyncio.run(_call(MetricsMiddleware(app, m), {"type": "lifespan"}))
        self.assertEqual(sum(m.requests.values()), 0)

    def test_status_classes(self) -> None:
        self.assertEqual([status_class(s) for s in (200, 302, 404, 503, 0, 999)],
                         ["2xx", "3xx", "4xx", "5xx", "5xx", "5xx"])


if __name__ == "__main__":
    unittest.main()
