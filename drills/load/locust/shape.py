"""The Locust load shape that plays a `Plan` (drills.load.profiles); Locust side only.

One shape for every profile: closed-model profiles set the user count over time; open-model profiles keep
the pool of `max_users` users and let the rate gate vary the arrivals. The shape ends the test at
`plan.end` (the planned duration plus a grace period), a safety net when nobody stops Locust.

The plan is known only once the run is (in the init listener, drills.load.locust.loadrun), so the run
puts an instance on `environment.shape_class` there; Locust never discovers this class in a locustfile.
"""

from __future__ import annotations

from locust import LoadTestShape

from drills.load.profiles import Plan


class DrillsShape(LoadTestShape):
    """Users and spawn rate over time, from the run's plan."""

    abstract = True  # not picked up from a locustfile's names: it needs the plan, see the module docstring

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def tick(self) -> tuple[int, float] | None:
        return self.plan.users_at(self.get_run_time())
