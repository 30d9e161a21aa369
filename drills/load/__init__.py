"""Load generation with Locust and the operation history (history*.jsonl, stats.jsonl).

Two sides, kept apart on purpose:

* harness side (`runner`, `config`, `profiles`, `livestats`): plain Python that never imports locust or
  gevent, because gevent's monkey-patching breaks docker/requests in the harness. `runner` starts, watches
  and stops the Locust processes; `config` is what it hands them (config.json plus environment variables);
  `profiles` validates and computes the load profile; `livestats` reads stats.jsonl back for the console;
* Locust side (`drills.load.locust`: plugin, run state, workload, shape, gate, recorder, classify,
  stats): runs only in the Locust processes started by `runner.start_load`, where the run state hangs on
  Locust's Environment (see drills/load/locust/__init__.py).

`config` and `profiles` are shared: the Locust side reads them too. This package imports nothing at import
time. See docs/load.md.
"""
