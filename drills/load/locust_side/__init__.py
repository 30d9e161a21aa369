"""The Locust side of the load: what runs inside the Locust processes the harness starts.

`locust_plugin.py` (always the first `-f` file) hooks the recorder, stats, rate gate and graceful stop
into Locust's events (`plugin`); `locustfile.py` exposes the built-in workload (`workload`). This process's
run state hangs on Locust's Environment (`plugin.runtime(environment)`), set in the init listener.

Pure helpers (`classify`, `recorder`, `stats`, `seats`) import neither locust nor gevent, so the harness and
the unit tests use them without Locust. Not named `locust`: Locust puts this folder on sys.path (it holds the
`-f` files), where a `locust` package would shadow Locust itself. This package imports nothing at import time.
"""
