"""Roles that move between the containers of an attached system (a Redis master, a database leader), found by
the probe the scenario declares (`stack.attach.role_probes`): a command run in each container whose output a
regular expression matches, or an HTTP URL per container that answers 200 on the holder.

Asked again at every fault injection, so `target: {role: leader}` means whoever leads at that moment. Every
container is asked in parallel with a deadline: a hung `docker exec` (a frozen node) is an answer too, "could
not ask", never a drill that waits forever.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import docker
import requests
from docker.errors import APIError, NotFound

from drills.platform import http
from drills.scenario.model import RoleProbe

if TYPE_CHECKING:   # the view (inventory) asks the probes; a runtime import would be a cycle
    from drills.platform.inventory import Node

PROBE_TIMEOUT_S = 3.0
# exit codes of a command that did not run at all (not found, not executable): the probe is wrong
_CANNOT_RUN = (126, 127)

Run = Callable[["Node", list[str]], tuple[int, str]]   # (exit code, stdout); raises Unanswered
Get = Callable[[str], int]                          # HTTP status; raises Unanswered


class Unanswered(Exception):
    """The container could not be asked (not running, no such command, connection refused, too slow)."""


@dataclass(frozen=True)
class Answer:
    node: str                 # the node asked
    holds: bool               # it holds the role now
    said: str                 # what it answered, shortened: "master", "HTTP 503", "exit 1"
    error: str | None = None  # why it could not be asked (then it does not hold the role)


def nodes_named(name: str, nodes: Iterable[Node]) -> list[Node]:
    """The nodes a service name in the scenario stands for: a node, every replica of a compose service, or the
    node of a container name."""
    return sorted((n for n in nodes if n.answers_to(name)), key=lambda n: n.service)


def unknown_names(probe: RoleProbe, nodes: Iterable[Node]) -> list[str]:
    """Services the probe names that the system does not have (checked before any fault)."""
    have = list(nodes)
    return [s for s in (*probe.services, *probe.http) if not nodes_named(s, have)]


def ask(probe: RoleProbe, nodes: Iterable[Node], run: Run, get: Get,
        timeout: float = PROBE_TIMEOUT_S) -> list[Answer]:
    """Every container the probe names, asked once, in parallel; an answer per node."""
    have = list(nodes)
    jobs: list[tuple[Node, Callable[[], Answer]]] = []
    if probe.http:
        for name, url in probe.http.items():
            for node in nodes_named(name, have):
                jobs.append((node, partial(_ask_http, node, url, get)))
    else:
        pattern = re.compile(probe.match)
        seen: set[str] = set()
        for name in probe.services:
            for node in nodes_named(name, have):
                if node.service not in seen:
                    seen.add(node.service)
                    jobs.append((node, partial(_ask_command, node, probe.command, pattern, run)))
    if not jobs:
        return []
    pool = ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="role-probe")
    try:
        futures = [(node, pool.submit(job)) for node, job in jobs]
        answers = []
        for node, future in futures:
            try:
                answers.append(future.result(timeout=timeout))
            except FutureTimeout:
                answers.append(Answer(node.service, False, "", f"no answer within {timeout:g}s"))
        return answers
    finally:
        pool.shutdown(wait=False, cancel_futures=True)   # a hung exec must not hold the drill


def holders(answers: Iterable[Answer]) -> list[str]:
    return sorted(a.node for a in answers if a.holds)


def _ask_command(node: Node, command: list[str], pattern: re.Pattern[str], run: Run) -> Answer:
    try:
        code, out = run(node, command)
    except Unanswered as exc:
        return Answer(node.service, False, "", str(exc))
    said = _short(out)
    if code in _CANNOT_RUN:
        return Answer(node.service, False, said, f"`{' '.join(command)}` cannot run in {node.container_name} "
                                                 f"(exit {code}): {said or 'no output'}")
    if code != 0:
        return Answer(node.service, False, f"exit {code}" + (f": {said}" if said else ""))
    return Answer(node.service, pattern.search(out) is not None, said)


def _ask_http(node: Node, url: str, get: Get) -> Answer:
    try:
        status = get(url)
    except Unanswered as exc:
        return Answer(node.service, False, "", f"{url}: {exc}")
    return Answer(node.service, status == 200, f"HTTP {status}")


def _short(text: str, most: int = 80) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= most else first[: most - 1] + "…"


def docker_run(client: docker.DockerClient) -> Run:
    """`docker exec` of the command in the node's container: its exit code and its stdout."""
    def run(node: Node, command: list[str]) -> tuple[int, str]:
        try:
            container = client.containers.get(node.container_id)
            if container.status != "running":
                raise Unanswered(f"{node.container_name} is {container.status}")
            code, (out, err) = container.exec_run(command, stdout=True, stderr=True, demux=True)
        except NotFound:
            raise Unanswered(f"{node.container_name} no longer exists") from None
        except APIError as exc:
            raise Unanswered(str(getattr(exc, "explanation", None) or exc)) from None
        text = (out or b"").decode(errors="replace")
        if code in _CANNOT_RUN and not text.strip():
            text = (err or b"").decode(errors="replace")
        return int(code if code is not None else -1), text

    return run


def http_get(timeout: float = PROBE_TIMEOUT_S) -> Get:
    """GET on a loopback URL (validated): its status code."""
    def get(url: str) -> int:
        try:
            return http.get(url, timeout=timeout).status_code
        except requests.RequestException as exc:
            raise Unanswered(exc.__class__.__name__ + (f": {exc.args[0]}" if exc.args else "")) from None

    return get
