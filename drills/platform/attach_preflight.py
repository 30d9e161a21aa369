"""Before any fault on a user's system: everything the scenario names must exist and answer, or the drill refuses
to start (exit 7) with what is wrong and what to do — never an "internal error" at the first injection.

Checked: the compose project has running containers; every container, service and role the scenario names
exists; every role probe can be asked in every container it names; the API answers; the readiness checks hold.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from drills.errors import PreconditionFailed
from drills.platform import compose, http
from drills.platform.inventory import StackView, TargetError
from drills.platform.readiness import NotReady, checks_for, hint_for, wait_ready
from drills.platform.role_probes import holders, unknown_names
from drills.scenario.model import AttachedStack
from drills.scenario.suggest import did_you_mean

Log = Callable[[str], None]
START_READY_TIMEOUT_S = 30.0   # a system that is not ready now will not be judged fairly after the faults


def check_attachable(view: StackView, at: AttachedStack, log: Log) -> None:
    """Raise PreconditionFailed unless the attached system is what the scenario says and ready."""
    _find_nodes(view, at)
    _names_exist(view, at)
    _probes_answer(view, log)
    try:
        http.get(at.api_url.rstrip("/") + "/", timeout=5)
    except requests.RequestException as exc:
        raise PreconditionFailed(f"the attached API {at.api_url} does not answer: {exc.__class__.__name__}",
                                 hint="start the system, or fix stack.attach.api_url") from None
    try:
        waited = wait_ready(checks_for(at, view), START_READY_TIMEOUT_S, at.ready.hold, default_hint=hint_for(at))
    except NotReady as exc:
        raise PreconditionFailed(f"the attached system is not ready before the drill: {exc.message}",
                                 hint=exc.hint) from None
    log(f"attached: {len(view.nodes)} containers, ready after {waited:.1f}s")


def _find_nodes(view: StackView, at: AttachedStack) -> None:
    try:
        view.refresh()
    except TargetError as exc:
        names = [c.name for c in view.client.containers.list(all=True)]
        close = [f"{name!r}: did you mean {s!r}?" for name in at.containers.values()
                 if name not in names and (s := did_you_mean(name, names))]
        raise PreconditionFailed(f"stack.attach.containers: {exc}" + (f" ({'; '.join(close)})" if close else ""),
                                 hint="name existing containers (`docker ps -a --format '{{.Names}}'`)") from None
    if at.compose_project:
        _compose_project_runs(view, at.compose_project)
    if at.label_selector and not any(n.container_name for n in view.nodes.values()):
        raise PreconditionFailed(f"no container carries the label {at.label_selector!r} (stack.attach.label_selector)",
                                 hint="check the label with `docker ps --filter label=...`")


def _compose_project_runs(view: StackView, project: str) -> None:
    listed = view.client.containers.list(all=True, filters=compose.project_filter(project))
    mine = compose.members(listed)
    if not mine:
        present = compose.projects(view.client.containers.list(all=True, filters={"label": compose.PROJECT}))
        close = did_you_mean(project, list(present))
        shown = ", ".join(f"{p} ({n} containers)" for p, n in sorted(present.items())) or "none"
        raise PreconditionFailed(f"the compose project {project!r} (stack.attach.compose_project) has no containers"
                                 + (f" (did you mean {close!r}?)" if close else ""),
                                 hint=f"start it (`docker compose -p {project} up -d`); compose projects here: {shown}")
    running = [m for m in mine.values() if m.container.status == "running"]
    if not running:
        raise PreconditionFailed(f"the compose project {project!r} has no running containers ("
                                 + ", ".join(f"{m.key} {m.container.status}" for m in mine.values()) + ")",
                                 hint=f"start it (`docker compose -p {project} up -d`)")


def _names_exist(view: StackView, at: AttachedStack) -> None:
    """Names a discovered system could only check now: roles, Patroni URLs, role probes' services."""
    nodes = list(view.nodes.values())
    have = sorted({n.service for n in nodes} | {n.group for n in nodes if n.group})
    problems = []
    for where, names in (("roles", list(at.roles)), ("patroni_urls", list(at.patroni_urls))):
        for name in names:
            if not any(n.answers_to(name) for n in nodes):
                problems.append(_unknown(f"stack.attach.{where}.{name}", name, have))
    for role, probe in at.role_probes.items():
        for name in unknown_names(probe, nodes):
            problems.append(_unknown(f"stack.attach.role_probes.{role}", name, have))
    if problems:
        raise PreconditionFailed("; ".join(problems), hint=f"the system's services: {', '.join(have) or 'none'}")


def _unknown(where: str, name: str, have: list[str]) -> str:
    close = did_you_mean(name, have)
    return f"{where}: no service or container named {name!r}" + (f" (did you mean {close!r}?)" if close else "")


def _probes_answer(view: StackView, log: Log) -> None:
    problems = []
    for role in view.role_probes:
        answers = view.probe(role)
        problems += [f"role_probes.{role} on {a.node}: {a.error}" for a in answers if a.error]
        if not any(a.error for a in answers):
            found = holders(answers)
            log(f"role {role}: " + (", ".join(found) if found else "no holder now ("
                                    + "; ".join(f"{a.node}: {a.said or 'no output'}" for a in answers) + ")"))
    if problems:
        raise PreconditionFailed("a role probe cannot be asked before any fault: " + "; ".join(problems),
                                 hint="every container a probe names must run and have its command (or answer "
                                      "its URL); try it with `docker exec CONTAINER COMMAND`")
