"""Harness side: start Locust in its own processes, watch them, stop them, always reap them.

Locust (and so gevent's monkey-patching) never enters the harness process: it would break the docker SDK
and requests there. This module imports neither; it talks to Locust through a config file in the run
dir, environment variables, marker files, signals and exit codes.

    handle = start_load(scenario.load, scenario.phases, api_url, run_dir, run_secret, seed, scenario_dir)
    handle.wait_started(60)   # raises LoadError (nothing left running) if Locust died on the way up
    ... drill ...
    handle.stop()             # graceful (in-flight operations finish), then kill; reaps every process

Everything that can be checked before the drill is checked in `start_load`, which raises with one clear
line instead of starting anything: the profile, the built-in workload's settings, the target being
reachable, the locustfile importing and the scenario's user classes existing in it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from drills.errors import DrillError, ExitCode, InfrastructureError
from drills.load.config import (
    BUILTIN,
    BUILTIN_OPS,
    ENV_CONFIG,
    ENV_HISTORY,
    ENV_MASTER_BIND,
    ENV_MASTER_PORT,
    ENV_PARENT,
    ENV_REMOTE_WORKERS,
    ENV_SECRET,
    ENV_TOKENS,
    ENV_WORKER,
    LoadConfig,
)
from drills.load.profiles import ProfileError, make_plan
from drills.load.worker_auth import TokenError, read_token
from drills.scenario.model import LoadSection, Phases

LOCUST_SIDE = Path(__file__).resolve().parent / "locust_side"
PLUGIN = LOCUST_SIDE / "locust_plugin.py"
BUILTIN_LOCUSTFILE = LOCUST_SIDE / "locustfile.py"
KILL_WAIT_S = 3.0
REMOTE_WAIT_S = 300   # how long the master waits for remote workers to join (`drill worker`, docs/load.md)
# The target is on this machine: proxies named in the environment are not for it (a CI runner's proxy would
# see every request, bearer tokens included). Locust processes get none of these; the target check goes direct.
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LoadError(InfrastructureError):
    """Locust could not start, crashed, or the target cannot be reached."""


class LoadScenarioError(DrillError):
    """The scenario's load section cannot work: profile, locustfile or user classes."""

    exit_code = ExitCode.INVALID_SCENARIO


@dataclass
class _Proc:
    name: str                 # "master" or the worker name (w0, w1, ...)
    popen: subprocess.Popen
    log_path: Path
    log: IO[bytes]


@dataclass
class LoadHandle:
    """The running Locust processes of one drill."""

    config: LoadConfig
    procs: list[_Proc] = field(default_factory=list)
    error: str | None = None          # one line: why Locust crashed or could not start (None: fine)
    _stop_requested: bool = False
    _stopped: bool = False

    @property
    def primary(self) -> _Proc:
        """The master (distributed) or the single local process."""
        return self.procs[0]

    @property
    def returncode(self) -> int | None:
        """The master's (or single process's) exit code; None while it runs."""
        return self.procs[0].popen.poll() if self.procs else None

    @property
    def worker_names(self) -> list[str]:
        return [p.name for p in self.procs if p.name != "master"]

    def wait_started(self, timeout: float = 60.0) -> None:
        """Return once every load process has started its users; else stop everything and raise LoadError.
        Remote workers (their markers are written by the master) get the time the master waits for them."""
        markers = [self.config.load_dir() / f"started-{name}.json" for name in self.worker_names]
        remote = self.config.remote_workers
        if remote:
            timeout = max(timeout, REMOTE_WAIT_S + 30)
        deadline = time.monotonic() + timeout
        while True:
            if all(m.exists() for m in markers) and (
                    not remote or len(list(self.config.load_dir().glob("started-*.json"))) >= len(markers) + remote):
                return
            if not self.alive():
                self.stop(timeout=5)
                self.error = self.error or f"Locust exited before the load started: {self._last_log_line()}"
                raise LoadError(f"load generator failed to start: {self.error}",
                                hint=f"see the Locust logs in {self.config.load_dir()}")
            if time.monotonic() > deadline:
                self.stop(timeout=5)
                self.error = f"Locust did not start the load within {timeout:.0f}s: {self._last_log_line()}"
                raise LoadError(self.error, hint=f"see the Locust logs in {self.config.load_dir()}")
            time.sleep(0.1)

    def started_at(self) -> float | None:
        """Epoch time the first of this machine's load processes started its users (their `started-*.json`
        markers), None when no marker says: the load's own start, which the harness sees only at its next poll."""
        times = []
        for name in self.worker_names:
            try:
                t = json.loads((self.config.load_dir() / f"started-{name}.json").read_text()).get("t")
            except (OSError, ValueError, AttributeError):
                continue
            if type(t) in (int, float):
                times.append(float(t))
        return min(times) if times else None

    def alive(self) -> bool:
        """True while every process runs. False once one exited (`error` says why unless it was a normal
        end: stopped by `stop()`, or the planned duration plus grace passed)."""
        if not self.procs:
            return False
        exited = [p for p in self.procs if p.popen.poll() is not None]
        for p in exited:
            if self.error is None and p.popen.returncode != 0:
                self.error = _exit_reason(p)
        return not exited

    def stop(self, timeout: float = 30.0) -> int | None:
        """Graceful stop (SIGUSR1: users finish the operation in flight, history is flushed and fsync'd),
        then SIGTERM, then SIGKILL after `timeout`. Reaps every process it started. Idempotent."""
        if self._stopped:
            return self.returncode
        self._stop_requested = True
        if self.procs and self.primary.popen.poll() is None:
            _signal(self.primary.popen, signal.SIGUSR1)
        else:  # no master to stop them: workers get SIGTERM, which Locust also handles gracefully
            for p in self.procs:
                if p.popen.poll() is None:
                    _signal(p.popen, signal.SIGTERM)
        self._wait_all(time.monotonic() + timeout)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            running = [p for p in self.procs if p.popen.poll() is None]
            if not running:
                break
            if self.error is None:
                self.error = f"Locust did not stop within {timeout:.0f}s: sent {sig.name} to " + \
                             ", ".join(p.name for p in running)
            for p in running:
                _signal(p.popen, sig)
            self._wait_all(time.monotonic() + KILL_WAIT_S)
        for p in self.procs:
            try:
                p.popen.wait(timeout=KILL_WAIT_S)
            except subprocess.TimeoutExpired:  # pragma: no cover (SIGKILL was sent)
                pass
            p.log.close()
            # -SIGUSR1: stopped before Locust had installed its handler (a stop right after the start)
            if self.error is None and p.popen.returncode not in (0, None, -signal.SIGUSR1):
                self.error = _exit_reason(p)
        self._stopped = True
        return self.returncode

    def __enter__(self) -> LoadHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_all(self, deadline: float) -> None:
        while time.monotonic() < deadline and any(p.popen.poll() is None for p in self.procs):
            time.sleep(0.05)

    def _last_log_line(self) -> str:
        return next((line for p in self.procs if (line := last_error_line(p.log_path))), "(no log output)")


def start_load(load: LoadSection, phases: Phases, api_url: str, run_dir: Path, run_secret: str, seed: int,
               scenario_dir: Path | None = None, *, history: bool = True, stats: bool = True,
               tokens_dir: Path | None = None, record: dict[str, list[str]] | None = None,
               grace: float | None = None) -> LoadHandle:
    """Check everything that can be checked, then start Locust (one process, or a master and
    `load.workers` workers) against `api_url`. Raises LoadScenarioError / LoadError with nothing running.
    `history=False` / `stats=False` skip writing those files (only the benchmark's baselines want that).
    `tokens_dir`: where each process writes the session tokens it sees (owner-only, outside the run directory;
    drills/rundir/vault.py); None records none. `record`: op -> the response./request. sources of a declared
    audit its history lines carry (AuditSection.recorded()). `grace`: how long past the planned phases Locust
    keeps going before it stops itself (default LoadConfig.grace; a drill adds the time its heals may take)."""
    run_dir = Path(run_dir)
    config = LoadConfig.from_section(load, phases, api_url, run_dir, seed)
    config.history, config.stats = history, stats
    config.record = dict(record or {})
    if grace is not None:
        config.grace = float(grace)
    config.remote_workers = int(os.environ.get(ENV_REMOTE_WORKERS) or 0)
    check_config(config)
    if config.remote_workers:
        try:
            read_token()  # the master admits only workers that prove it (drills/load/locust_side/remote.py)
        except TokenError as exc:
            raise LoadError(f"{ENV_REMOTE_WORKERS}={config.remote_workers}: {exc}",
                            hint="remote workers (`drill worker`) must prove a shared token before they get the "
                                 "run secret") from None
    locustfile = resolve_locustfile(load.locustfile, scenario_dir)
    check_target(config.api_url, http_health=config.builtin)
    load_dir = config.load_dir()
    load_dir.mkdir(parents=True, exist_ok=True)
    for stale in load_dir.glob("started-*.json"):
        stale.unlink()
    config.write(load_dir / "config.json")
    env = _env(config, run_secret) | ({ENV_TOKENS: str(tokens_dir)} if tokens_dir is not None else {})
    available = list_user_classes(locustfile, env)
    missing = [c for c in load.user_classes if c not in available]
    if missing:
        raise LoadScenarioError(f"user class {', '.join(missing)} not found in {locustfile}",
                                hint=f"available: {', '.join(available) or 'none'}")
    if not config.builtin and make_plan(config.profile, config.duration, config.grace).mode == "rate":
        check_pacing(locustfile, list(load.user_classes), env)
    return _spawn(config, locustfile, list(load.user_classes), env)


def check_config(config: LoadConfig) -> None:
    """The profile and the built-in workload's settings (raises LoadScenarioError)."""
    try:
        make_plan(config.profile, config.duration, config.grace)
    except ProfileError as exc:
        raise LoadScenarioError(f"load.profile: {exc}") from None
    problems = []
    if config.workers < 0 or config.remote_workers < 0:
        problems.append(f"workers must be >= 0, not {config.workers}")
    if config.request_timeout <= 0:
        problems.append("request_timeout must be positive")
    if config.builtin:
        unknown = sorted(set(config.mix) - set(BUILTIN_OPS))
        if unknown:
            problems.append(f"mix: unknown operation(s) {', '.join(unknown)} (built-in: {', '.join(BUILTIN_OPS)})")
        if not any(w > 0 for w in config.mix.values()):
            problems.append("mix: at least one operation needs a positive weight")
        if not 0.0 <= config.hot_share <= 1.0:
            problems.append(f"hot_share must be within 0..1, not {config.hot_share}")
        if config.hot_seats < 1:
            problems.append(f"hot_seats must be >= 1, not {config.hot_seats}")
        if config.max_retries < 0:
            problems.append(f"max_retries must be >= 0, not {config.max_retries}")
    if problems:
        raise LoadScenarioError("load: " + "; ".join(problems))


def resolve_locustfile(locustfile: str, scenario_dir: Path | None) -> Path:
    """`builtin` or a path relative to the scenario's directory."""
    if locustfile in ("", BUILTIN):
        return BUILTIN_LOCUSTFILE
    path = Path(locustfile)
    if not path.is_absolute():
        path = (scenario_dir or Path.cwd()) / path
    if not path.is_file():
        raise LoadScenarioError(f"locustfile {locustfile!r} not found (looked at {path})")
    return path.resolve()


def check_target(api_url: str, http_health: bool = False, timeout: float = 3.0) -> None:
    """The target accepts TCP connections (and, for the reference API, answers GET /healthz with 200)."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadScenarioError(f"target {api_url!r} is not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise LoadError(f"target {api_url} unreachable: {exc.strerror or exc}",
                        hint="is the stack up? `drill stack status`") from None
    if http_health:
        try:
            with _DIRECT.open(api_url.rstrip("/") + "/healthz", timeout=timeout) as resp:
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError) as exc:
            raise LoadError(f"target {api_url} does not answer GET /healthz: {exc}") from None
        if status != 200:
            raise LoadError(f"target {api_url} answers GET /healthz with {status}, expected 200")


def list_user_classes(locustfile: Path, env: dict[str, str], timeout: float = 60.0) -> list[str]:
    """Import the locustfile in a throwaway Locust process (`--list`): the user classes it defines.
    Raises LoadScenarioError with the import error when it does not import."""
    cmd = _locust_cmd(locustfile) + ["--list"]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise LoadScenarioError(f"locustfile {locustfile} did not import within {timeout:.0f}s") from None
    out, err = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise LoadScenarioError(f"locustfile {locustfile} does not import: {_error_line(err + out)}")
    lines = out.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Available Users")), None)
    return [line.strip() for line in lines[start + 1:] if line.strip()] if start is not None else []


def check_pacing(locustfile: Path, user_classes: list[str], env: dict[str, str], timeout: float = 60.0) -> None:
    """An arrival rate paces every task of the user classes (drills/load/locust_side/pacing.py); raise LoadScenarioError
    for a class whose work Locust does not run as tasks, which no rate could pace."""
    cmd = [sys.executable, "-m", "drills.load.locust_side.pacing", str(locustfile), *user_classes]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise LoadScenarioError(f"locustfile {locustfile} did not import within {timeout:.0f}s") from None
    out = proc.stdout.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 or not out:
        raise LoadScenarioError(f"locustfile {locustfile} could not be checked for an arrival rate: "
                                f"{_error_line(proc.stderr.decode(errors='replace')) or 'no answer'}")
    problems = json.loads(out[-1])
    if problems:
        raise LoadScenarioError("load.profile: an arrival rate needs user classes it can pace: " + "; ".join(problems),
                                hint="use a constant_users profile (closed loop) for these user classes, or "
                                     "run their work as Locust tasks")


def last_error_line(log_path: Path) -> str:
    """The most telling line of a Locust log: the last exception or error, else the last line."""
    try:
        text = log_path.read_bytes()[-65536:].decode(errors="replace")
    except OSError:
        return ""
    return _error_line(text)


_ERROR_RE = re.compile(r"^\s*([\w.]*(Error|Exception|Exit)\b.*|.*\b(ERROR|CRITICAL)\b.*|.*Unknown User.*)$")


def _error_line(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if _ERROR_RE.match(line):
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else ""


def _exit_reason(p: _Proc) -> str:
    rc = p.popen.returncode
    what = f"killed by signal {-rc}" if rc is not None and rc < 0 else f"exited with code {rc}"
    detail = last_error_line(p.log_path)
    return f"locust {p.name} {what}" + (f": {detail}" if detail else "")


def _locust_cmd(locustfile: Path) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", f"{PLUGIN},{locustfile}"]


def _env(config: LoadConfig, run_secret: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({ENV_CONFIG: str(config.load_dir() / "config.json"), ENV_SECRET: run_secret,
                ENV_PARENT: str(os.getpid()), "PYTHONUNBUFFERED": "1"})
    for key in (ENV_WORKER, ENV_HISTORY, *PROXY_ENV):
        env.pop(key, None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(config: LoadConfig, locustfile: Path, user_classes: list[str], env: dict[str, str]) -> LoadHandle:
    common = ["--host", config.api_url, "--stop-timeout", f"{config.stop_timeout:g}"]
    summary = ["--headless", "--only-summary", "--exit-code-on-error", "0",
               "--json-file", str(config.load_dir() / "locust-summary")]  # Locust appends .json
    handle = LoadHandle(config)
    try:
        if not config.distributed:
            handle.procs.append(_popen("w0", _locust_cmd(locustfile) + summary + common + user_classes,
                                       env | {ENV_WORKER: "w0"}, config))
            return handle
        port = int(os.environ.get(ENV_MASTER_PORT) or 0) or _free_port()
        bind = os.environ.get(ENV_MASTER_BIND) or "127.0.0.1"
        master = ["--master", "--master-bind-host", bind, "--master-bind-port", str(port),
                  "--expect-workers", str(config.workers + config.remote_workers),
                  "--expect-workers-max-wait", "60" if not config.remote_workers else str(REMOTE_WAIT_S)]
        handle.procs.append(_popen("master", _locust_cmd(locustfile) + master + summary + common + user_classes,
                                   env, config))
        for i in range(config.workers):
            name = f"w{i}"
            worker = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            handle.procs.append(_popen(name, _locust_cmd(locustfile) + worker + common,
                                       env | {ENV_WORKER: name}, config))
    except BaseException:
        handle.stop(timeout=5)
        raise
    return handle


def _popen(name: str, cmd: list[str], env: dict[str, str], config: LoadConfig) -> _Proc:
    log_path = config.load_dir() / f"locust-{name}.log"
    log = open(log_path, "ab")
    try:
        popen = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=config.load_dir(), start_new_session=True)
    except OSError as exc:
        log.close()
        raise LoadError(f"cannot start locust: {exc}") from None
    return _Proc(name, popen, log_path, log)


def _signal(popen: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        popen.send_signal(sig)
    except ProcessLookupError:
        pass
