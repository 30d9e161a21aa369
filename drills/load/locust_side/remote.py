"""Remote load workers over Locust's own connection (Locust side only): join, prove, configure, report.

A worker started by `drill worker` has no files from the harness: it gets everything over Locust custom
messages (`runner.register_message` / `send_message`) and sends its history back the same way.

    worker                                   master (started by the harness)
    client_ready  ------------------------>  held back: acked, but not yet one of Locust's workers
    drills_hello {local}  ---------------->
                  <------------------------  drills_challenge {nonce}
    drills_auth {HMAC(token, nonce+id)} -->  wrong: drills_denied {reason} + quit (the worker gets nothing else)
                  <------------------------  drills_config {name, config, secret, tokens}
                  <------------------------  drills_ping {n, t0} x PINGS
    drills_pong {n, t0, tw}  ------------->  offset = tw - (t0 + t1)/2 of the fastest; `worker joined` event;
                                             now Locust registers it (users are dispatched to it, rebalanced)
    drills_lines {stream, data}  --------->  history-<name>.jsonl / stats.jsonl / tokens-<name>.jsonl
    drills_started / drills_done  -------->  started-<name>.json marker / the master may quit

The master holds a worker's `client_ready` back (wrapping `MasterRunner.handle_message`) until the proof is
right, so Locust never dispatches users to a worker that has no config, nor counts it in --expect-workers.
Local workers of a master that waits for remote ones go through the same proof (they know the token from the
environment) but keep their own files. Worker health (joined / missing / quit / lost) is watched here on the
master and written to events.jsonl (drills.load.worker_events).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import gevent
from locust import __version__ as LOCUST_VERSION
from locust.rpc import Message
from locust.runners import STATE_INIT, STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, STATE_STOPPED, STATE_STOPPING

from drills import __version__ as DRILLS_VERSION
from drills.load.config import LoadConfig
from drills.load.worker_auth import ClockSample, WorkerNames, best_offset, new_nonce, proof, verify
from drills.load.worker_events import MISSING, WorkerEventLog, WorkerHealth
from drills.rundir import codec, files
from drills.rundir.vault import tokens_path

MSG_HELLO = "drills_hello"
MSG_CHALLENGE = "drills_challenge"
MSG_AUTH = "drills_auth"
MSG_DENIED = "drills_denied"
MSG_CONFIG = "drills_config"
MSG_PING = "drills_ping"
MSG_PONG = "drills_pong"
MSG_LINES = "drills_lines"
MSG_STARTED = "drills_started"
MSG_DONE = "drills_done"
STREAMS = ("history", "stats", "tokens")

PINGS = 5
PING_WAIT_S = 3.0
HELLO_RETRY_S = 5.0
HEALTH_POLL_S = 0.5
EXIT_NO_WORKERS = 4  # the master's exit code when Locust ended the load because every worker went missing
LAST_WORKER = ("the last worker went missing: Locust stopped the load by itself "
               f"(the master exits with code {EXIT_NO_WORKERS})")
# Locust's messages a worker sends that mean nothing before it is one of the master's workers
_HELD_BACK = {"heartbeat", "stats", "spawning", "spawning_complete", "client_stopped", "exception", "logs",
              "locustfile", MSG_LINES, MSG_STARTED, MSG_DONE}
_LOCAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")  # a worker that has its own config

log = logging.getLogger(__name__)


# -- master ---------------------------------------------------------------------------------------------------
class MasterGate:
    """The master's side: admits only workers that prove the token, names them, measures their clock, writes
    what they send and their health."""

    def __init__(self, environment: Any, config: LoadConfig, token: str, secret: str,
                 tokens_dir: str | None = None) -> None:
        self.environment = environment
        self.runner = environment.runner
        self.config = config
        self.token = token
        self.secret = secret
        self.tokens_dir = tokens_dir
        self.names = WorkerNames()
        self.admitted: dict[str, str] = {}             # client id -> worker name
        self.remote: set[str] = set()                  # admitted client ids whose files the master writes
        self.done: set[str] = set()
        self.stopped: set[str] = set()                 # stopped by the master's stop (graceful, not gone)
        self._running_before = False
        self.sent: dict[str, int] = {}                 # client id -> history lines the worker says it sent
        self.lines: dict[str, int] = {}                # worker name -> history lines received
        self._pending: dict[str, dict[str, Any]] = {}
        self._fds: dict[Path, int] = {}
        self.health = WorkerHealth(WorkerEventLog(Path(config.run_dir) / files.EVENTS))
        self._original = self.runner.handle_message
        self.runner.handle_message = self._handle
        self._original_quit = self.runner.quit
        self.runner.quit = self._quit
        for msg_type, listener in ((MSG_HELLO, self._on_hello), (MSG_AUTH, self._on_auth),
                                   (MSG_PONG, self._on_pong), (MSG_LINES, self._on_lines),
                                   (MSG_STARTED, self._on_started), (MSG_DONE, self._on_done)):
            self.runner.register_message(msg_type, listener)
        self._watcher = gevent.spawn(self._watch)

    # Locust's dispatcher, wrapped
    def _handle(self, client_id: str, msg: Message) -> None:
        if client_id not in self.admitted:
            if msg.type == "client_ready":
                pending = self._pending.setdefault(client_id, {"samples": []})
                pending["ready"] = msg
                # acked (the worker's connect returns and its plugin says hello), not registered
                self.runner.send_message("ack", client_id=client_id,
                                         data={"index": self.runner.get_worker_index(client_id)})
                return
            if msg.type in _HELD_BACK:
                return
            if msg.type == "quit":
                self._pending.pop(client_id, None)
                return
        elif msg.type == "quit":
            self.health.quit(client_id, "the worker quit" + self._counts(client_id))
        elif msg.type == "client_stopped":  # Locust forgets it now; its goodbye (done, quit) is still to come
            self.stopped.add(client_id)
        self._original(client_id, msg)

    def _quit(self) -> None:
        """Every way the master quits (our graceful stop, Locust's headless end, the shape's end) first stops
        the workers and waits for their last lines: Locust's own quit would cut them off."""
        if self.runner.state not in (STATE_STOPPED, STATE_STOPPING, STATE_INIT):
            self.runner.stop()
        self.wait_done(self.config.stop_timeout + 5)
        self._original_quit()

    def _on_hello(self, environment: Any, msg: Message, **_kw: Any) -> None:
        client_id = msg.node_id
        if client_id in self.admitted:
            return
        data = msg.data if isinstance(msg.data, dict) else {}
        pending = self._pending.setdefault(client_id, {"samples": []})
        pending["nonce"] = new_nonce()
        local = data.get("local")
        pending["local"] = local if isinstance(local, str) and _LOCAL_NAME.match(local) else None
        self.runner.send_message(MSG_CHALLENGE, {"nonce": pending["nonce"]}, client_id=client_id)

    def _on_auth(self, environment: Any, msg: Message, **_kw: Any) -> None:
        client_id = msg.node_id
        pending = self._pending.get(client_id)
        if client_id in self.admitted or pending is None or "nonce" not in pending:
            return
        answer = msg.data.get("proof") if isinstance(msg.data, dict) else None
        nonce = pending.pop("nonce")  # one answer per nonce
        if not verify(self.token, nonce, client_id, answer):
            self._deny(client_id, "wrong worker token: the proof does not match the master's token "
                                  "(check DRILLS_WORKER_TOKEN / --token-file on both sides)")
            return
        local = pending.get("local")
        name = local or self.names.name(client_id)
        pending["name"] = name
        tokens = self.tokens_dir is not None and local is None
        self.runner.send_message(MSG_CONFIG, {"name": name, "config": self.config.to_dict(),
                                              "secret": self.secret if local is None else None,
                                              "tokens": tokens}, client_id=client_id)
        gevent.spawn(self._measure_and_admit, client_id)

    def _deny(self, client_id: str, reason: str) -> None:
        self._pending.pop(client_id, None)
        log.warning("refused worker %s: %s", client_id, reason)
        self.runner.send_message(MSG_DENIED, {"reason": reason}, client_id=client_id)
        self.runner.server.send_to_client(Message("quit", None, client_id))

    def _measure_and_admit(self, client_id: str) -> None:
        pending = self._pending.get(client_id)
        if pending is None:
            return
        for n in range(PINGS):
            self.runner.send_message(MSG_PING, {"n": n, "t0": time.time()}, client_id=client_id)
            gevent.sleep(0.05)
        deadline = time.monotonic() + PING_WAIT_S
        while len(pending["samples"]) < PINGS and time.monotonic() < deadline:
            gevent.sleep(0.02)
        measured = best_offset(pending["samples"])
        offset, rtt = measured if measured is not None else (None, None)
        name = pending["name"]
        self._pending.pop(client_id, None)
        self.admitted[client_id] = name
        if pending.get("local") is None:
            self.remote.add(client_id)
        detail = f"{len(pending['samples'])}/{PINGS} clock samples" + ("" if pending.get("local") else
                                                                       f", client {client_id}")
        self.health.joined(client_id, name, offset, rtt, detail)
        log.info("worker %s joined (offset %s s, rtt %s s)", name, offset, rtt)
        self._original(client_id, pending.get("ready") or Message("client_ready", LOCUST_VERSION, client_id))

    def _on_pong(self, environment: Any, msg: Message, **_kw: Any) -> None:
        pending = self._pending.get(msg.node_id)
        data = msg.data if isinstance(msg.data, dict) else {}
        if pending is None or not isinstance(data.get("t0"), float) or not isinstance(data.get("tw"), float):
            return
        pending["samples"].append(ClockSample(data["t0"], data["tw"], time.time()))

    def _on_lines(self, environment: Any, msg: Message, **_kw: Any) -> None:
        name = self.admitted.get(msg.node_id)
        data = msg.data if isinstance(msg.data, dict) else {}
        stream, blob = data.get("stream"), data.get("data")
        if msg.node_id not in self.remote or name is None or stream not in STREAMS or not isinstance(blob, str):
            return
        if not blob.endswith("\n"):
            blob += "\n"
        if stream == "history":
            path, mode = self.config.history_path(name), 0o644
            self.lines[name] = self.lines.get(name, 0) + blob.count("\n")
        elif stream == "stats":
            path, mode = self.config.stats_path(), 0o644
        elif self.tokens_dir is not None:
            path, mode = tokens_path(Path(self.tokens_dir), name), 0o600
        else:
            return
        self._append(path, blob.encode(), mode)

    def _append(self, path: Path, data: bytes, mode: int) -> None:
        fd = self._fds.get(path)
        if fd is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = self._fds[path] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    def _counts(self, client_id: str) -> str:
        if client_id not in self.remote:
            return ""
        sent = self.sent.get(client_id)
        return (f": sent {'?' if sent is None else sent} history lines, "
                f"{self.lines.get(self.admitted[client_id], 0)} received")

    def _on_started(self, environment: Any, msg: Message, **_kw: Any) -> None:
        name = self.admitted.get(msg.node_id)
        if name is not None and msg.node_id in self.remote:
            marker = self.config.load_dir() / f"started-{name}.json"
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(codec.dumps({"worker": name, "remote": True, "t": round(time.time(), 3)}).decode())

    def _on_done(self, environment: Any, msg: Message, **_kw: Any) -> None:
        if msg.node_id in self.admitted:
            self.done.add(msg.node_id)
            lines = msg.data.get("lines") if isinstance(msg.data, dict) else None
            if isinstance(lines, int):
                self.sent[msg.node_id] = lines

    def _watch(self) -> None:
        while True:
            gevent.sleep(HEALTH_POLL_S)
            self.check_health()

    def check_health(self) -> None:
        states = {client_id: "stopped" for client_id in self.stopped}
        states.update({c.id: c.state for c in self.runner.clients.all})
        # Locust stops the test itself the moment the last worker goes missing: look at the state before
        alone = bool(self.admitted) and self.runner.worker_count <= 0 and self._running_before
        self._running_before = self.runner.state in (STATE_RUNNING, STATE_SPAWNING)
        before = self.health.missing_count()
        self.health.observe(states, LAST_WORKER if alone else "")
        if alone and self.health.missing_count() > before:
            log.error("%s", LAST_WORKER)   # the harness quotes the last error line of the log with the exit code
            self.environment.process_exit_code = EXIT_NO_WORKERS

    def wait_done(self, timeout: float) -> None:
        """Until every remote worker still connected sent its last lines (or `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            known = {c.id: c.state for c in self.runner.clients.all}
            expect = {cid for cid in self.remote if (cid in known or cid in self.stopped)
                      and known.get(cid) != STATE_MISSING and not self.health.is_done(cid)}
            if not expect - self.done:
                return
            gevent.sleep(0.1)
        log.warning("remote workers did not send their last history lines within %.0f s", timeout)

    def finish(self) -> None:
        self._watcher.kill(block=False)
        self.check_health()
        for client_id, seen in self.health.workers.items():
            if not seen.done and seen.state != MISSING:  # told to quit by the master at the end: graceful
                self.health.quit(client_id, "the load ended" + self._counts(client_id))
        self.health.finish()
        for fd in self._fds.values():
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._fds.clear()
        if self.lines:
            log.info("history lines from remote workers: %s", self.lines)


# -- worker ---------------------------------------------------------------------------------------------------
class RemoteLines:
    """The worker-side stand-in for a BufferedLineWriter: lines go to the master in batches (one custom
    message per stream per flush) instead of into a file of this machine."""

    def __init__(self, link: WorkerLink, stream: str, flush_interval: float | None = 1.0) -> None:
        self.link = link
        self.stream = stream
        self.flush_interval = flush_interval
        self.written = 0
        self._buf: deque[bytes] = deque()
        self._closed = False
        self._loop = gevent.spawn(self._run) if flush_interval else None

    def start(self) -> RemoteLines:
        return self

    def append(self, record: dict) -> None:
        self._buf.append(codec.dumps(record))

    def flush(self) -> int:
        if not self._buf:
            return 0
        batch = [self._buf.popleft() for _ in range(len(self._buf))]
        self.link.send(MSG_LINES, {"stream": self.stream, "data": (b"\n".join(batch) + b"\n").decode()})
        self.written += len(batch)
        return len(batch)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.kill(block=False)
        self.flush()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def _run(self) -> None:
        assert self.flush_interval
        while True:
            gevent.sleep(self.flush_interval)
            self.flush()


class WorkerLink:
    """The worker's side: says hello, answers the challenge with the proof, receives its name, config and the
    run secret (`on_config(name, config, secret, tokens)`), answers pings, carries lines to the master."""

    def __init__(self, environment: Any, token: str, local_name: str | None, on_config: Any,
                 target: str | None = None) -> None:
        self.environment = environment
        self.runner = environment.runner
        self.token = token
        self.target = target.rstrip("/") if target else None
        self.local_name = local_name
        self.on_config = on_config
        self.remote = local_name is None
        self.name: str | None = None
        self.denied: str | None = None
        for msg_type, listener in ((MSG_CHALLENGE, self._on_challenge), (MSG_DENIED, self._on_denied),
                                   (MSG_CONFIG, self._on_config), (MSG_PING, self._on_ping)):
            self.runner.register_message(msg_type, listener)
        self._hello = gevent.spawn(self._say_hello)
        if self.target:
            self._original = self.runner.handle_message
            self.runner.handle_message = self._handle

    def _handle(self, msg: Message) -> None:
        """`drill worker --target`: the system under test as this worker reaches it, not the master's URL that
        each spawn message carries (a worker in another network sees the target at another address)."""
        if msg.type == "spawn" and isinstance(msg.data, dict):
            msg.data["host"] = self.target
        self._original(msg)

    def send(self, msg_type: str, data: dict[str, Any]) -> None:
        self.runner.send_message(msg_type, data)

    def _say_hello(self) -> None:
        while self.name is None and self.denied is None:
            self.send(MSG_HELLO, {"local": self.local_name, "version": DRILLS_VERSION})
            gevent.sleep(HELLO_RETRY_S)

    def _on_challenge(self, environment: Any, msg: Message, **_kw: Any) -> None:
        nonce = msg.data.get("nonce") if isinstance(msg.data, dict) else None
        if isinstance(nonce, str) and self.name is None:
            self.send(MSG_AUTH, {"proof": proof(self.token, nonce, self.runner.client_id)})

    def _on_denied(self, environment: Any, msg: Message, **_kw: Any) -> None:
        reason = msg.data.get("reason") if isinstance(msg.data, dict) else None
        self.denied = str(reason or "no reason given")
        log.error("the master refused this worker: %s", self.denied)
        print(f"drill worker: the master refused this worker: {self.denied}", file=sys.stderr, flush=True)
        self.environment.process_exit_code = 3
        gevent.spawn(self.runner.quit)

    def _on_config(self, environment: Any, msg: Message, **_kw: Any) -> None:
        data = msg.data if isinstance(msg.data, dict) else {}
        if self.name is not None or not isinstance(data.get("name"), str):
            return
        self.name = data["name"]
        self._hello.kill(block=False)
        config = LoadConfig.from_dict(data["config"]) if isinstance(data.get("config"), dict) else None
        if config is not None and self.target:
            config.api_url = self.target
        log.info("joined the master as %s", self.name)
        self.on_config(self.name, config, data.get("secret"), bool(data.get("tokens")))

    def _on_ping(self, environment: Any, msg: Message, **_kw: Any) -> None:
        data = msg.data if isinstance(msg.data, dict) else {}
        self.send(MSG_PONG, {"n": data.get("n"), "t0": data.get("t0"), "tw": time.time()})

    def lines(self, stream: str, flush_interval: float | None) -> RemoteLines:
        return RemoteLines(self, stream, flush_interval)
