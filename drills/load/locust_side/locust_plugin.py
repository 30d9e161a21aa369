"""Locust-side entry point loaded before every locustfile: `locust -f locust_plugin.py,<locustfile>`.

It defines no users. It hooks the history recorder, stats and graceful stop into Locust's events
(drills.load.locust_side.plugin) and provides the load shape of the scenario's profile. A user's own locustfile
needs nothing from drills to be recorded, nor to be paced by an arrival rate (drills.load.locust_side.pacing);
see docs/load.md for the optional `context` keys.
"""

from drills.load.locust_side import plugin

plugin.install()

if plugin.shape() is not None:
    DrillsShape = plugin.DrillsShape
