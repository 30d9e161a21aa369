"""Load generation with Locust and the operation history (history*.jsonl, stats.jsonl).

Two sides, kept apart on purpose:

* harness side (this package: `runner`, `livestats`, `config`, `profiles`): plain Python, never imports
  locust or gevent, because gevent's monkey-patching breaks docker/requests in the harness;
* Locust side (`drills.load.locust_side`): runs only in the Locust processes started by `runner.start_load`
  (or by `drill worker`, `remote_worker`, on another machine: `locust_side.remote` carries its config there
  and its history back; `worker_auth` and `worker_events` are the plain logic of that; its image is built by
  drills.platform.worker_image).

This package imports nothing at import time. See docs/load.md.
"""
