"""What every Locust process started by the harness runs next to the locustfile (Locust side only).

`locust_plugin.py` (always the first `-f` file) calls `install()`, which hooks Locust's events:

* init         - builds this process's `Runtime` from the harness's config (DRILLS_LOAD_CONFIG) and hangs it
                 on the Environment (`runtime(environment)`), hooks the events below; each load-generating
                 process (local or worker) opens its history file and hooks the recorder to `events.request`;
                 the master only gets the graceful-stop signal; under an open-model profile every task of every
                 user class takes a gate token (drills.load.locust_side.pacing);
* test_start   - starts the per-second stats, the arrival-rate gate (open model) and writes the
                 `load/started-<worker>.json` marker the harness waits for;
* test_stopping- closes the gate and tells the workload to stop retrying;
* quit         - writes operations still in flight as info/Abandoned, the last stats lines, and fsyncs.

Remote workers (`drill worker`, drills.load.locust_side.remote): a master told to wait for some admits only
workers that prove the shared token (`MasterGate`); a worker started without the harness's config gets its
name, config and the run secret from the master after that proof (`WorkerLink`) and sends its history, stats
and token lines back over Locust's connection instead of writing files.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import LoadTestShape, events
from locust.runners import MasterRunner, WorkerRunner

from drills.load.config import ENV_CONFIG, ENV_HISTORY, ENV_PARENT, ENV_SECRET, ENV_TOKENS, LoadConfig, worker_name
from drills.load.locust_side import pacing
from drills.load.locust_side.gate import RateGate
from drills.load.locust_side.recorder import Recorder
from drills.load.locust_side.remote import MSG_DONE, MSG_STARTED, MasterGate, WorkerLink
from drills.load.locust_side.stats import SecondStats
from drills.load.profiles import Plan, make_plan
from drills.load.worker_auth import ENV_WORKER_TARGET, ENV_WORKER_TOKEN, ENV_WORKER_TOKEN_FILE, TokenError, read_token
from drills.rundir.vault import tokens_path
from drills.rundir.writers import BufferedLineWriter

ATTRIBUTE = "drills"  # the Environment attribute that holds this process's Runtime
STATS_GRACE_S = 0.25  # a second's line is written this long after it ended (late completions)
PARENT_POLL_S = 1.0


@dataclass
class Runtime:
    """This process's load state, shared by the plugin and the user classes (`runtime(environment)`)."""

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
    shared: dict[str, Any] = field(default_factory=dict)  # per-process state of a user class, by its name
    link: Any = None                      # remote workers: MasterGate (master) or WorkerLink (worker)
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


def _new_runtime() -> Runtime:
    config = LoadConfig.from_env()
    plan = make_plan(config.profile, config.duration, config.grace) if config else None
    return Runtime(config=config, plan=plan, worker=worker_name(), secret=os.environ.get(ENV_SECRET, ""))


def runtime(environment: Any) -> Runtime:
    """This process's run state, on Locust's Environment (set by the init listener; built on first use when
    a user class runs without the plugin, e.g. in a test)."""
    rt = getattr(environment, ATTRIBUTE, None)
    if rt is None:
        rt = _new_runtime()
        rt.environment = environment
        setattr(environment, ATTRIBUTE, rt)
    return rt


class DrillsShape(LoadTestShape):
    """Plays the profile's `Plan` (drills.load.profiles), one shape for every profile: closed-model profiles
    set the user count over time; open-model profiles keep the pool of `max_users` users and let the rate
    gate vary the arrivals. Ends the test at `plan.end` (planned duration plus grace), a safety net when
    nobody stops Locust. Locust instantiates it when it loads the locustfile, before there is an Environment,
    so it finds the plan through its runner."""

    def tick(self) -> tuple[int, float] | None:
        plan = runtime(self.runner.environment).plan if self.runner is not None else None
        return plan.users_at(self.get_run_time()) if plan is not None else None


def shape() -> type[LoadTestShape] | None:
    """The load shape when the harness started this process (it sets the config variable); None lets a
    plain Locust run use its own options."""
    return DrillsShape if os.environ.get(ENV_CONFIG) else None


def install() -> None:
    """Hook Locust's init event (idempotent); the rest is hooked per Environment by `_on_init`."""
    if getattr(install, "done", False):
        return
    install.done = True  # type: ignore[attr-defined]
    events.init.add_listener(_on_init)


def _on_init(environment: Any, **_kw: Any) -> None:
    rt = runtime(environment)
    runner = environment.runner
    rt.role = ("master" if isinstance(runner, MasterRunner) else
               "worker" if isinstance(runner, WorkerRunner) else "local")
    hooks = environment.events
    hooks.test_start.add_listener(lambda **_: _on_test_start(rt))
    hooks.test_stopping.add_listener(lambda **_: _on_test_stopping(rt))
    hooks.test_stop.add_listener(lambda **_: _on_test_stop(rt))
    hooks.user_error.add_listener(lambda **_: rt.stats.exception(time.time()) if rt.stats is not None else None)
    hooks.quit.add_listener(lambda **_: finish(rt))
    atexit.register(finish, rt)
    _link(rt)
    _pace(rt)
    if rt.role != "worker":
        gevent.signal_handler(signal.SIGUSR1, lambda: gevent.spawn(_graceful_stop, environment))
    parent = os.environ.get(ENV_PARENT)
    if parent and parent.isdigit():
        gevent.spawn(_watch_parent, rt, int(parent))
    if not _remote(rt):
        _open_outputs(rt, tokens=bool(os.environ.get(ENV_TOKENS)))


def _remote(rt: Runtime) -> bool:
    """A worker started by `drill worker`: its config, secret and name come from the master, its lines go back."""
    return isinstance(rt.link, WorkerLink) and rt.link.remote


def _link(rt: Runtime) -> None:
    """Remote workers (drills.load.locust_side.remote): a master that waits for some admits only workers that
    prove the token; a worker without a config from the harness (`drill worker`) asks the master for one."""
    environment = rt.environment
    remote_master = rt.role == "master" and rt.config is not None and rt.config.remote_workers > 0
    wants_config = rt.role == "worker" and (rt.config is None or rt.config.remote_workers > 0)
    if not (remote_master or (wants_config and (os.environ.get(ENV_WORKER_TOKEN)
                                                or os.environ.get(ENV_WORKER_TOKEN_FILE)))):
        return
    try:
        token = read_token()
    except TokenError as exc:
        logging.getLogger(__name__).error("%s", exc)
        raise SystemExit(2) from None
    if remote_master:
        assert rt.config is not None
        rt.link = MasterGate(environment, rt.config, token, rt.secret, os.environ.get(ENV_TOKENS))
    else:
        rt.link = WorkerLink(environment, token, None if rt.config is None else rt.worker,
                             lambda name, config, secret, tokens: _configured(rt, name, config, secret, tokens),
                             target=os.environ.get(ENV_WORKER_TARGET) if rt.config is None else None)


def _configured(rt: Runtime, name: str, config: LoadConfig | None, secret: str | None, tokens: bool) -> None:
    """The master admitted this worker: a remote one takes its name, config and the run secret, and sends its
    lines to the master from now on."""
    if not _remote(rt) or config is None:
        return
    rt.config, rt.worker, rt.secret = config, name, secret or ""
    rt.plan = make_plan(config.profile, config.duration, config.grace)
    _open_outputs(rt, tokens=tokens)
    _pace(rt)


def _open_outputs(rt: Runtime, tokens: bool) -> None:
    """History (and session tokens) of a load-generating process: files here, or lines to the master."""
    if rt.role == "master" or rt.config is None or not (rt.config.history or rt.config.stats):
        return
    remote = rt.link if _remote(rt) else None
    if rt.config.history:
        if remote is not None:
            rt._history = remote.lines("history", rt.config.flush_interval)
            rt._tokens = remote.lines("tokens", rt.config.flush_interval) if tokens else None
        else:
            path = Path(os.environ.get(ENV_HISTORY) or rt.config.history_path(rt.worker))
            rt._history = BufferedLineWriter(path, rt.config.flush_interval).start()
            if tokens:  # owner-only, outside the run directory (drills/rundir/vault.py)
                rt._tokens = BufferedLineWriter(tokens_path(Path(os.environ[ENV_TOKENS]), rt.worker),
                                                rt.config.flush_interval, mode=0o600).start()
    rt.recorder = Recorder(rt.worker, rt._history, None, tokens=rt._tokens, record=dict(rt.config.record))
    rt.environment.events.request.add_listener(rt.recorder.on_request)


def _pace(rt: Runtime) -> None:
    """Open model: every task of every user waits for a token of the gate (drills.load.locust_side.pacing). A
    user class that cannot be paced stops Locust before any user starts (the harness refuses it before the
    drill; this is for a worker started by hand). Workers check nothing: they know every class, not the chosen
    ones."""
    if rt.plan is None or rt.plan.mode != "rate":
        return
    problems = pacing.prepare(list(rt.environment.user_classes))
    if problems and rt.role != "worker":
        logging.getLogger(__name__).error("load.profile: an arrival rate needs user classes it can pace: %s",
                                          "; ".join(problems))
        raise SystemExit(2)
    if rt.role != "master":
        pacing.install(lambda: _take_token(rt))


def _take_token(rt: Runtime) -> bool:
    """Wait until one task may start, counted as offered then; False once the load is stopping."""
    gate = rt.gate
    if gate is None:
        return not rt.stopping
    if not gate.acquire():
        return False
    if rt.stats is not None:
        rt.stats.offered(time.time())
    return True


def _on_test_start(rt: Runtime) -> None:
    if rt.role == "master" or rt.config is None or rt.started_at is not None:
        return
    rt.started_at = time.time()
    if rt.config.stats:
        rt.stats = SecondStats(rt.worker, rt.started_at)
        # paced tasks count as offered when they take their token (_take_token), not their requests
        rt.stats.offer_unannounced = rt.plan is None or rt.plan.mode != "rate"
        if rt.recorder is not None:
            rt.recorder.stats = rt.stats
        rt._stats_out = (rt.link.lines("stats", None) if _remote(rt) else
                         BufferedLineWriter(rt.config.stats_path(), flush_interval=3600))
        rt.proc = psutil.Process()
        rt.proc.cpu_percent(None)
        rt._stats_greenlet = gevent.spawn(_stats_loop, rt)
    if rt.plan is not None and rt.plan.mode == "rate":
        stats, plan, config = rt.stats, rt.plan, rt.config  # plan and config are set once, at init
        rt.gate = RateGate(lambda t: (plan.rate_at(t) or 0.0) / config.process_count,
                           on_drop=lambda n: stats.dropped(time.time(), n) if stats else None)
        rt.gate.start()
    if _remote(rt):  # the master writes the marker: nothing of the run directory is on this machine
        rt.link.send(MSG_STARTED, {"t": round(rt.started_at, 3)})
        return
    marker = rt.config.load_dir() / f"started-{rt.worker}.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"worker": rt.worker, "pid": os.getpid(), "t": round(rt.started_at, 3)}))


def _on_test_stopping(rt: Runtime) -> None:
    rt.stopping = True
    if rt.gate is not None:
        rt.gate.close()


def _on_test_stop(rt: Runtime) -> None:
    """A worker whose users the master stopped reports its last stats and quits at once, instead of
    idling --stop-timeout seconds for a restart that a headless drill never sends.

    The report goes out here, inside Locust's stop, not from a greenlet spawned for later: Locust sends
    `client_stopped` right after this event, and a master that has seen every worker stop writes its summary
    and quits within about half a second, so stats sent after that could miss the summary (the history then
    counted more operations than Locust under load)."""
    if rt.role == "worker" and rt.stopping:
        if _remote(rt):  # the last lines (in-flight operations, final stats) reach the master before the goodbye
            finish(rt)
            rt.link.send(MSG_DONE, {"lines": rt._history.written if rt._history is not None else 0})
        send_stats = getattr(rt.environment.runner, "_send_stats", None)  # Locust internals: best effort
        if callable(send_stats):
            send_stats()
        gevent.spawn(_worker_exit, rt)


def _worker_exit(rt: Runtime) -> None:
    gevent.sleep(0.2)
    rt.environment.runner.quit()


def _stats_loop(rt: Runtime) -> None:
    while True:
        now = time.time()
        gevent.sleep(max(0.05, int(now) + 1 + STATS_GRACE_S - now))
        _write_stats(rt, final=False)


def _write_stats(rt: Runtime, final: bool) -> None:
    if rt.stats is None or rt._stats_out is None or rt._stats_out.closed:
        return
    runner = getattr(rt.environment, "runner", None)
    users = runner.user_count if runner is not None else 0
    cpu = round(rt.proc.cpu_percent(None), 1) if rt.proc is not None else None
    for line in rt.stats.due_lines(time.time(), users, cpu, rt.target_rate, grace=STATS_GRACE_S, final=final):
        rt._stats_out.append(line)
    rt._stats_out.flush()


def _watch_parent(rt: Runtime, parent: int) -> None:
    """The harness started us in our own session (so a Ctrl-C reaches it, not us, and it stops us
    gracefully). If it dies without stopping us (SIGKILL), stop anyway instead of loading the system
    until the planned end: the process is re-parented, so our parent pid changes."""
    while os.getppid() == parent:
        gevent.sleep(PARENT_POLL_S)
    if rt.role == "worker":
        rt.environment.runner.quit()
    else:
        _graceful_stop(rt.environment)


def _graceful_stop(environment: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.stop()  # workers stop their users and report before being told to quit (remote workers: their
    runner.quit()      # last history lines too, drills.load.locust_side.remote.MasterGate._quit)


def finish(rt: Runtime) -> None:
    """Flush everything once: in-flight operations, the last stats lines, fsync (quit event or atexit)."""
    if rt._finished:
        return
    rt._finished = True
    if isinstance(rt.link, MasterGate):
        rt.link.finish()
    if rt.gate is not None:
        rt.gate.close()
    if rt._stats_greenlet is not None:
        rt._stats_greenlet.kill(block=False)
    if rt.recorder is not None:
        rt.recorder.abandon_inflight()
    if rt._stats_out is not None:
        _write_stats(rt, final=True)
        rt._stats_out.close()
    if rt._history is not None:
        rt._history.close()
    if rt._tokens is not None:
        rt._tokens.close()
