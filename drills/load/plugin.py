"""What every Locust process started by the harness runs next to the locustfile (Locust side only).

`locust_plugin.py` (always the first `-f` file) calls `install()`, which hooks Locust's events:

* init         - each load-generating process (local or worker) opens its history file and hooks the
                 recorder to `events.request`; the master only gets the graceful-stop signal; under an
                 open-model profile every task of every user class takes a gate token (drills.load.pacing);
* test_start   - starts the per-second stats, the arrival-rate gate (open model) and writes the
                 `load/started-<worker>.json` marker the harness waits for;
* test_stopping- closes the gate and tells the workload to stop retrying;
* quit         - writes operations still in flight as info/Abandoned, the last stats lines, and fsyncs.

SIGUSR1 asks the master (or the single local process) for a graceful stop: users finish the operation
in flight (bounded by --stop-timeout), workers send their final stats, then every process exits.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from drills.load import pacing
from drills.load.config import ENV_HISTORY, ENV_PARENT, ENV_SECRET, ENV_TOKENS, LoadConfig, worker_name
from drills.load.gate import RateGate
from drills.load.profiles import Plan, make_plan
from drills.load.recorder import Recorder
from drills.load.stats import SecondStats
from drills.rundir.vault import tokens_path
from drills.rundir.writers import BufferedLineWriter

STATS_GRACE_S = 0.25  # a second's line is written this long after it ended (late completions)
PARENT_POLL_S = 1.0


@dataclass
class Runtime:
    """This process's load state, shared by the plugin and the built-in workload."""

    config: LoadConfig | None
    plan: Plan | None
    worker: str
    secret: str
    role: str = "local"                   # local / master / worker
    recorder: Recorder | None = None
    gate: RateGate | None = None
    stats: SecondStats | None = None
    stopping: bool = False
    started_at: float | None = None
    environment: Any = None
    proc: Any = None                      # psutil.Process of this generator (cpu_percent)
    _history: BufferedLineWriter | None = None
    _tokens: BufferedLineWriter | None = None
    _stats_out: BufferedLineWriter | None = None
    _stats_greenlet: Any = None
    _finished: bool = False

    def target_rate(self, t: float) -> float | None:
        """This process's share of the profile's rate at epoch time t (None: closed model)."""
        if self.plan is None or self.started_at is None:
            return None
        rate = self.plan.rate_at(t - self.started_at)
        return None if rate is None else rate / (self.config.process_count if self.config else 1)


def _load_runtime() -> Runtime:
    config = LoadConfig.from_env()
    plan = make_plan(config.profile, config.duration, config.grace) if config else None
    return Runtime(config=config, plan=plan, worker=worker_name(), secret=os.environ.get(ENV_SECRET, ""))


RUNTIME = _load_runtime()


def shape() -> type | None:
    """The LoadTestShape for this run's profile (None when Locust runs without the harness)."""
    if RUNTIME.plan is None:
        return None
    from drills.load.shapes import shape_class
    return shape_class(RUNTIME.plan)


def install() -> None:
    """Hook the Locust events (idempotent)."""
    if getattr(install, "done", False):
        return
    install.done = True  # type: ignore[attr-defined]
    events.init.add_listener(_on_init)
    events.test_start.add_listener(_on_test_start)
    events.test_stopping.add_listener(_on_test_stopping)
    events.test_stop.add_listener(_on_test_stop)
    events.user_error.add_listener(_on_user_error)
    events.quit.add_listener(lambda **_kw: finish())
    atexit.register(finish)


def _on_init(environment: Any, **_kw: Any) -> None:
    rt = RUNTIME
    runner = environment.runner
    rt.environment = environment
    rt.role = ("master" if isinstance(runner, MasterRunner) else
               "worker" if isinstance(runner, WorkerRunner) else "local")
    _pace(environment)
    if rt.role != "worker":
        gevent.signal_handler(signal.SIGUSR1, lambda: gevent.spawn(_graceful_stop, environment))
    parent = os.environ.get(ENV_PARENT)
    if parent and parent.isdigit():
        gevent.spawn(_watch_parent, environment, int(parent))
    if rt.role == "master" or rt.config is None or not (rt.config.history or rt.config.stats):
        return
    if rt.config.history:
        path = Path(os.environ.get(ENV_HISTORY) or rt.config.history_path(rt.worker))
        rt._history = BufferedLineWriter(path, rt.config.flush_interval).start()
        if os.environ.get(ENV_TOKENS):  # owner-only, outside the run directory (drills/rundir/vault.py)
            rt._tokens = BufferedLineWriter(tokens_path(Path(os.environ[ENV_TOKENS]), rt.worker),
                                            rt.config.flush_interval, mode=0o600).start()
    rt.recorder = Recorder(rt.worker, rt._history, None, tokens=rt._tokens)
    environment.events.request.add_listener(rt.recorder.on_request)


def _pace(environment: Any) -> None:
    """Open model: every task of every user waits for a token of the gate (drills.load.pacing). A user class
    that cannot be paced stops Locust before any user starts (the harness refuses it before the drill; this
    is for a worker started by hand). Workers check nothing: they know every class, not the chosen ones."""
    rt = RUNTIME
    if rt.plan is None or rt.plan.mode != "rate":
        return
    problems = pacing.prepare(list(environment.user_classes))
    if problems and rt.role != "worker":
        logging.getLogger(__name__).error("load.profile: an arrival rate needs user classes it can pace: %s",
                                          "; ".join(problems))
        raise SystemExit(2)
    if rt.role != "master":
        pacing.install(_take_token)


def _take_token() -> bool:
    """Wait until one task may start, counted as offered then; False once the load is stopping."""
    gate = RUNTIME.gate
    if gate is None:
        return not RUNTIME.stopping
    if not gate.acquire():
        return False
    if RUNTIME.stats is not None:
        RUNTIME.stats.offered(time.time())
    return True


def _on_test_start(environment: Any, **_kw: Any) -> None:
    rt = RUNTIME
    if rt.role == "master" or rt.config is None or rt.started_at is not None:
        return
    rt.started_at = time.time()
    if rt.config.stats:
        rt.stats = SecondStats(rt.worker, rt.started_at)
        # paced tasks count as offered when they take their token (_take_token), not their requests
        rt.stats.offer_unannounced = rt.plan is None or rt.plan.mode != "rate"
        if rt.recorder is not None:
            rt.recorder.stats = rt.stats
        rt._stats_out = BufferedLineWriter(rt.config.stats_path(), flush_interval=3600)
        rt.proc = psutil.Process()
        rt.proc.cpu_percent(None)
        rt._stats_greenlet = gevent.spawn(_stats_loop)
    if rt.plan is not None and rt.plan.mode == "rate":
        stats, plan, config = rt.stats, rt.plan, rt.config  # plan and config are set once, at import
        rt.gate = RateGate(lambda t: (plan.rate_at(t) or 0.0) / config.process_count,
                           on_drop=lambda n: stats.dropped(time.time(), n) if stats else None)
        rt.gate.start()
    marker = rt.config.load_dir() / f"started-{rt.worker}.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"worker": rt.worker, "pid": os.getpid(), "t": round(rt.started_at, 3)}))


def _on_test_stopping(**_kw: Any) -> None:
    RUNTIME.stopping = True
    if RUNTIME.gate is not None:
        RUNTIME.gate.close()


def _on_test_stop(environment: Any, **_kw: Any) -> None:
    """A worker whose users the master stopped reports its last stats and quits at once, instead of
    idling --stop-timeout seconds for a restart that a headless drill never sends."""
    if RUNTIME.role == "worker" and RUNTIME.stopping:
        gevent.spawn(_worker_exit, environment.runner)


def _worker_exit(runner: Any) -> None:
    send_stats = getattr(runner, "_send_stats", None)  # Locust internals: best effort
    if callable(send_stats):
        send_stats()
    gevent.sleep(0.2)
    runner.quit()


def _on_user_error(**_kw: Any) -> None:
    if RUNTIME.stats is not None:
        RUNTIME.stats.exception(time.time())


def _stats_loop() -> None:
    while True:
        now = time.time()
        gevent.sleep(max(0.05, int(now) + 1 + STATS_GRACE_S - now))
        _write_stats(final=False)


def _write_stats(final: bool) -> None:
    rt = RUNTIME
    if rt.stats is None or rt._stats_out is None or rt._stats_out.closed:
        return
    runner = getattr(rt.environment, "runner", None)
    users = runner.user_count if runner is not None else 0
    cpu = round(rt.proc.cpu_percent(None), 1) if rt.proc is not None else None
    for line in rt.stats.due_lines(time.time(), users, cpu, rt.target_rate, grace=STATS_GRACE_S, final=final):
        rt._stats_out.append(line)
    rt._stats_out.flush()


def _watch_parent(environment: Any, parent: int) -> None:
    """The harness started us in our own session (so a Ctrl-C reaches it, not us, and it stops us
    gracefully). If it dies without stopping us (SIGKILL), stop anyway instead of loading the system
    until the planned end: the process is re-parented, so our parent pid changes."""
    while os.getppid() == parent:
        gevent.sleep(PARENT_POLL_S)
    if RUNTIME.role == "worker":
        environment.runner.quit()
    else:
        _graceful_stop(environment)


def _graceful_stop(environment: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.stop()  # workers stop their users and report before being told to quit
    runner.quit()


def finish() -> None:
    """Flush everything once: in-flight operations, the last stats lines, fsync (quit event or atexit)."""
    rt = RUNTIME
    if rt._finished:
        return
    rt._finished = True
    if rt.gate is not None:
        rt.gate.close()
    if rt._stats_greenlet is not None:
        rt._stats_greenlet.kill(block=False)
    if rt.recorder is not None:
        rt.recorder.abandon_inflight()
    if rt._stats_out is not None:
        _write_stats(final=True)
        rt._stats_out.close()
    if rt._history is not None:
        rt._history.close()
    if rt._tokens is not None:
        rt._tokens.close()
