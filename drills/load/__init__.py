"""Load generation with Locust and the operation history (history*.jsonl, stats.jsonl).

Two sides, kept apart on purpose:

* harness side (`runner`, `livestats`, `config`, `profiles`, `passwords`): plain Python, never
  imports locust or gevent, because gevent's monkey-patching breaks docker/requests in the harness;
* Locust side (`locust_plugin.py`, `locustfile.py`, `workload`, `plugin`, `gate`, `pacing`, `shapes`): runs only
  in the Locust processes started by `runner.start_load`.

Pure helpers (`classify`, `recorder`, `stats`, `retry`, `mix`, `seats`) are used by
the Locust side and unit-tested without Locust. This package imports nothing at import time.
See docs/load.md.
"""
