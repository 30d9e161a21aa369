"""The Locust load shape that plays a `Plan` (drills.load.profiles); Locust side only.

One shape for every profile: closed-model profiles set the user count over time; open-model profiles keep
the pool of `max_users` users and let the rate gate vary the arrivals. The shape ends the test at
`plan.end` (the planned duration plus a grace period), a safety net when nobody stops Locust.
"""

from __future__ import annotations

from locust import LoadTestShape

from drills.load.profiles import Plan


def shape_class(plan: Plan) -> type[LoadTestShape]:
    """A LoadTestShape subclass bound to `plan` (Locust instantiates it itself)."""

    class DrillsShape(LoadTestShape):
        def tick(self) -> tuple[int, float] | None:
            return plan.users_at(self.get_run_time())

    return DrillsShape
