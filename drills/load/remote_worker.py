"""`drill worker`: join a running drill's load from another machine, container or pod (docs/load.md).

The worker needs nothing of the harness machine but the master's address and the shared token: the load
config and the run secret come over Locust's connection once the token is proven, and the history goes back
the same way (drills.load.locust_side.remote). This module checks what it can with one clear line (the
master's address, the token, the locustfile), waits for the master's port (a worker pod may start first),
then replaces itself with the Locust worker process, so signals and the exit code are Locust's own.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from drills.errors import DrillError, ExitCode, InfrastructureError
from drills.load.config import ENV_CONFIG, ENV_HISTORY, ENV_PARENT, ENV_SECRET, ENV_TOKENS, ENV_WORKER
from drills.load.runner import BUILTIN_LOCUSTFILE, PLUGIN, PROXY_ENV
from drills.load.worker_auth import ENV_WORKER_TARGET, ENV_WORKER_TOKEN, ENV_WORKER_TOKEN_FILE, TokenError, read_token

EXIT_REFUSED = 3  # the master refused the token (drills.load.locust_side.remote sets it)


class WorkerUsageError(DrillError):
    """A `drill worker` argument that cannot work."""

    exit_code = ExitCode.USAGE


def parse_master(master: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 as [addr]:PORT)."""
    host, sep, port = master.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise WorkerUsageError(f"--master {master!r}: expected HOST:PORT, e.g. 10.0.0.5:5557")
    return host, int(port)


def check_target(target: str | None) -> str | None:
    if target is None:
        return None
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WorkerUsageError(f"--target {target!r}: expected an http(s) URL, e.g. http://10.0.0.7:8080")
    return target.rstrip("/")


def wait_for_master(host: str, port: int, wait_s: float, log: Callable[[str], None] = print,
                    sleep: Callable[[float], None] = time.sleep) -> None:
    """Until the master's port accepts a TCP connection; InfrastructureError after `wait_s`."""
    deadline = time.monotonic() + wait_s
    said = False
    while True:
        try:
            socket.create_connection((host, port), timeout=3).close()
            return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise InfrastructureError(f"the master {host}:{port} does not accept connections: "
                                          f"{exc.strerror or exc}",
                                          hint="is the drill running with DRILLS_LOAD_REMOTE_WORKERS set, and "
                                               "DRILLS_LOAD_MASTER_BIND / _PORT where this worker reaches it?") \
                    from None
            if not said:
                log(f"waiting for the master {host}:{port} ({exc.strerror or exc}) ...")
                said = True
            sleep(1.0)


def worker_command(host: str, port: int, locustfile: Path) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", f"{PLUGIN},{locustfile}", "--worker",
            "--master-host", host, "--master-port", str(port)]


def worker_env(token: str, target: str | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """The Locust worker's environment: the token (never on the command line), the target, and nothing the
    harness would give a local worker (config, secret, history path: those come from the master)."""
    env = dict(os.environ if base is None else base)
    for key in (ENV_CONFIG, ENV_HISTORY, ENV_PARENT, ENV_SECRET, ENV_TOKENS, ENV_WORKER, ENV_WORKER_TOKEN_FILE,
                ENV_WORKER_TARGET, *PROXY_ENV):
        env.pop(key, None)
    env[ENV_WORKER_TOKEN] = token
    env["PYTHONUNBUFFERED"] = "1"
    if target:
        env[ENV_WORKER_TARGET] = target
    return env


def run_worker(master: str, token_file: str | None = None, target: str | None = None,
               locustfile: str | None = None, wait_s: float = 300.0, log: Callable[[str], None] = print) -> int:
    """Check, wait for the master, then exec the Locust worker (returns only on an error before that)."""
    host, port = parse_master(master)
    try:
        token = read_token(token_file)
    except TokenError as exc:
        raise WorkerUsageError(str(exc)) from None
    target = check_target(target)
    path = Path(locustfile).resolve() if locustfile else BUILTIN_LOCUSTFILE
    if not path.is_file():
        raise WorkerUsageError(f"--locustfile {locustfile}: no such file")
    wait_for_master(host, port, wait_s, log)
    log(f"joining the master {host}:{port}" + (f", target {target}" if target else ""))
    sys.stdout.flush()
    sys.stderr.flush()
    cmd = worker_command(host, port, path)
    os.execve(cmd[0], cmd, worker_env(token, target))
    return 0  # pragma: no cover (execve does not return)
