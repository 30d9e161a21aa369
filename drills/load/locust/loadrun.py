"""This Locust process's load run: its state hangs on Locust's Environment, wired once in the init listener.

`LoadRun.wire(environment)` (called by the init listener of drills/load/locust/plugin.py, and by the
built-in workload's, whichever fires first) reads what the harness handed over - `config.json` named by
DRILLS_LOAD_CONFIG, the worker name, the run secret, the history path, the harness's pid - builds the run
and hooks its methods to the environment's events:

* init (wire)  - each load-generating process (local or worker) opens its history file and hooks the
                 recorder to `events.request`; the master only gets the graceful-stop signal; the
                 profile's shape goes on `environment.shape_class`;
* test_start   - starts the per-second stats, the arrival-rate gate (open model) and writes the
                 `load/started-<worker>.json` marker the harness waits for;
* test_stopping- closes the gate and tells the workload to stop retrying;
* quit         - writes operations still in flight as info/Abandoned, the last stats lines, and fsyncs.

Users find the run with `LoadRun.of(self.environment)`: its `recorder` (announce an operation before it
starts), `gate` (the open model's tokens), `stopping`, `config`, `worker` and `secret`. Nothing of the run
lives in module globals, and importing this module reads no environment variable.

SIGUSR1 asks the master (or the single local process) for a graceful stop: users finish the operation
in flight (bounded by --stop-timeout), workers send their final stats, then every process exits.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust.env import Environment
from locust.runners import MasterRunner, Runner, WorkerRunner

from drills.load.config import ENV_HISTORY, ENV_PARENT, ENV_SECRET, LoadConfig, worker_name
from drills.load.locust.gate import RateGate
from drills.load.locust.recorder import Recorder
from drills.load.locust.shape import DrillsShape
from drills.load.locust.stats import SecondStats
from drills.load.profiles import Plan, make_plan
from drills.rundir.writers import BufferedLineWriter

STATS_GRACE_S = 0.25  # a second's line is written this long after it ended (late completions)
PARENT_POLL_S = 1.0
_ATTR = "drills_load_run"  # the attribute of the Environment the run hangs on


@dataclass(eq=False)
class LoadRun:
    """The load state of this process (one per Environment)."""

    environment: Environment
    config: LoadConfig | None              # None: Locust started without the harness (nothing is recorded)
    worker: str
    secret: str
    history_path: Path | None = None       # where this process's history goes (None: from the config)
    parent: int | None = None              # the harness's pid: stop when it is gone
    plan: Plan | None = field(init=False, default=None)
    role: str = field(init=False, default="local")  # local / master / worker
    recorder: Recorder | None = field(init=False, default=None)
    gate: RateGate | None = field(init=False, default=None)
    stats: SecondStats | None = field(init=False, default=None)
    stopping: bool = field(init=False, default=False)
    started_at: float | None = field(init=False, default=None)
    _proc: psutil.Process | None = field(init=False, default=None)  # this generator (cpu_percent)
    _history: BufferedLineWriter | None = field(init=False, default=None)
    _stats_out: BufferedLineWriter | None = field(init=False, default=None)
    _stats_greenlet: gevent.Greenlet | None = field(init=False, default=None)
    _finished: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if self.config is not None:
            self.plan = make_plan(self.config.profile, self.config.duration, self.config.grace)

    # -- finding and wiring ----------------------------------------------------------------------------
    @staticmethod
    def of(environment: Environment) -> LoadRun | None:
        """The run wired on this environment (None before the init event, or without the plugin)."""
        return getattr(environment, _ATTR, None)

    @classmethod
    def wire(cls, environment: Environment, env: Mapping[str, str] = os.environ) -> LoadRun:
        """The run of this environment, built from what the harness handed over (`env`: the process
        environment) and hooked to the environment's events the first time (idempotent)."""
        run = cls.of(environment)
        if run is not None:
            return run
        parent = env.get(ENV_PARENT) or ""
        run = cls(environment, LoadConfig.from_env(env), worker=worker_name(env), secret=env.get(ENV_SECRET, ""),
                  history_path=Path(env[ENV_HISTORY]) if env.get(ENV_HISTORY) else None,
                  parent=int(parent) if parent.isdigit() else None)
        setattr(environment, _ATTR, run)
        run._hook()
        return run

    @property
    def runner(self) -> Runner:
        runner = self.environment.runner
        assert runner is not None, "the init event fires after the runner exists"
        return runner

    def target_rate(self, t: float) -> float | None:
        """This process's share of the profile's rate at epoch time t (None: closed model)."""
        if self.plan is None or self.started_at is None:
            return None
        rate = self.plan.rate_at(t - self.started_at)
        return None if rate is None else rate / (self.config.process_count if self.config else 1)

    def _hook(self) -> None:
        environment, runner, events = self.environment, self.runner, self.environment.events
        self.role = ("master" if isinstance(runner, MasterRunner) else
                     "worker" if isinstance(runner, WorkerRunner) else "local")
        events.test_start.add_listener(self._on_test_start)
        events.test_stopping.add_listener(self._on_test_stopping)
        events.test_stop.add_listener(self._on_test_stop)
        events.user_error.add_listener(self._on_user_error)
        events.quit.add_listener(lambda **_kw: self.finish())
        atexit.register(self.finish)
        if self.plan is not None:
            shape = DrillsShape(self.plan)
            shape.runner = runner
            environment.shape_class = shape
        if self.role != "worker":
            gevent.signal_handler(signal.SIGUSR1, lambda: gevent.spawn(self._graceful_stop))
        if self.parent is not None:
            gevent.spawn(self._watch_parent, self.parent)
        config = self.config
        if self.role == "master" or config is None or not (config.history or config.stats):
            return
        if config.history:
            path = self.history_path or config.history_path(self.worker)
            self._history = BufferedLineWriter(path, config.flush_interval).start()
        self.recorder = Recorder(self.worker, self._history, None)
        events.request.add_listener(self.recorder.on_request)

    # -- Locust's events -------------------------------------------------------------------------------
    def _on_test_start(self, **_kw: Any) -> None:
        config, plan = self.config, self.plan
        if self.role == "master" or config is None or self.started_at is not None:
            return
        self.started_at = time.time()
        if config.stats:
            self.stats = SecondStats(self.worker, self.started_at)
            if self.recorder is not None:
                self.recorder.stats = self.stats
            self._stats_out = BufferedLineWriter(config.stats_path(), flush_interval=3600)
            self._proc = psutil.Process()
            self._proc.cpu_percent(None)
            self._stats_greenlet = gevent.spawn(self._stats_loop)
        if plan is not None and plan.mode == "rate":
            stats, share = self.stats, config.process_count
            self.gate = RateGate(lambda t: (plan.rate_at(t) or 0.0) / share,
                                 on_drop=lambda n: stats.dropped(time.time(), n) if stats else None)
            self.gate.start()
        marker = config.load_dir() / f"started-{self.worker}.json"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"worker": self.worker, "pid": os.getpid(), "t": round(self.started_at, 3)}))

    def _on_test_stopping(self, **_kw: Any) -> None:
        self.stopping = True
        if self.gate is not None:
            self.gate.close()

    def _on_test_stop(self, **_kw: Any) -> None:
        """A worker whose users the master stopped reports its last stats and quits at once, instead of
        idling --stop-timeout seconds for a restart that a headless drill never sends."""
        if self.role == "worker" and self.stopping:
            gevent.spawn(self._worker_exit)

    def _on_user_error(self, **_kw: Any) -> None:
        if self.stats is not None:
            self.stats.exception(time.time())

    # -- stats.jsonl -----------------------------------------------------------------------------------
    def _stats_loop(self) -> None:
        while True:
            now = time.time()
            gevent.sleep(max(0.05, int(now) + 1 + STATS_GRACE_S - now))
            self._write_stats(final=False)

    def _write_stats(self, final: bool) -> None:
        if self.stats is None or self._stats_out is None or self._stats_out.closed:
            return
        runner = self.environment.runner
        users = runner.user_count if runner is not None else 0
        cpu = round(self._proc.cpu_percent(None), 1) if self._proc is not None else None
        for line in self.stats.due_lines(time.time(), users, cpu, self.target_rate, grace=STATS_GRACE_S,
                                         final=final):
            self._stats_out.append(line)
        self._stats_out.flush()

    # -- stopping --------------------------------------------------------------------------------------
    def _worker_exit(self) -> None:
        runner = self.runner
        send_stats = getattr(runner, "_send_stats", None)  # Locust internals: best effort
        if callable(send_stats):
            send_stats()
        gevent.sleep(0.2)
        runner.quit()

    def _watch_parent(self, parent: int) -> None:
        """The harness started us in our own session (so a Ctrl-C reaches it, not us, and it stops us
        gracefully). If it dies without stopping us (SIGKILL), stop anyway instead of loading the system
        until the planned end: the process is re-parented, so our parent pid changes."""
        while os.getppid() == parent:
            gevent.sleep(PARENT_POLL_S)
        if self.role == "worker":
            self.runner.quit()
        else:
            self._graceful_stop()

    def _graceful_stop(self) -> None:
        runner = self.runner
        if isinstance(runner, MasterRunner):
            runner.stop()  # workers stop their users and report before being told to quit
        runner.quit()

    def finish(self) -> None:
        """Flush everything once: in-flight operations, the last stats lines, fsync (quit event or atexit)."""
        if self._finished:
            return
        self._finished = True
        if self.gate is not None:
            self.gate.close()
        if self._stats_greenlet is not None:
            self._stats_greenlet.kill(block=False)
        if self.recorder is not None:
            self.recorder.abandon_inflight()
        if self._stats_out is not None:
            self._write_stats(final=True)
            self._stats_out.close()
        if self._history is not None:
            self._history.close()
