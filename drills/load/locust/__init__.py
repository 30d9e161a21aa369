"""The Locust side of load generation: runs only in the Locust processes started by drills.load.runner.

* `plugin.py`  - the first `-f` file of every Locust process: wires the run in the init listener;
* `loadrun`    - `LoadRun`, this process's run state on Locust's Environment, and its event listeners;
* `workload`   - `TicketBuyer`, the built-in workload (itself the `-f` locustfile of `load.locustfile:
  builtin`); `choices` - its operation mix, hot seats and retry backoff;
* `shape`      - the LoadTestShape that plays the profile; `gate` - the open model's arrival gate;
* `recorder`   - Locust request events -> history lines; `classify` - ok / fail / info;
  `stats`      - the per-second stats.jsonl lines.

`loadrun`, `workload`, `shape` and `gate` import Locust or gevent; `recorder`, `classify`, `stats` and
`choices` do not (they are unit-tested without Locust). This package imports nothing at import time.
"""
