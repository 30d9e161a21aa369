"""Heal actions as plain data, so the runner, a signal handler and `drill clean` (after the harness was
SIGKILLed, reading the ledger) all heal the same way. Every action is idempotent.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import docker
from docker.errors import APIError, NotFound

from drills.platform.toxiproxy import ToxiproxyClient, ToxiproxyError

T = TypeVar("T")


@dataclass
class HealAction:
    # start | unpause | iptables_remove | remove_container | remove_toxic | enable_proxy
    action: str
    #                                  | restore_cluster | take_backup
    container: str | None = None     # container id (target or sidecar)
    name: str | None = None          # human name for messages
    chains: list[str] = field(default_factory=list)
    sidecar: str | None = None
    toxiproxy: str | None = None
    proxy: str | None = None
    toxic: str | None = None
    stack: str | None = None         # reference stack name (restore_cluster, take_backup)
    before: float | None = None      # restore_cluster: point in time (epoch) to recover to; None = latest
    xid: int | None = None           # restore_cluster: stop just before this transaction commits
    ports: dict[str, int] = field(default_factory=dict)  # restore_cluster: Patroni host port per node

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], "", {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealAction:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def describe(self) -> str:
        what = self.name or self.container or self.proxy or "?"
        if self.toxic:
            what = f"{self.proxy}/{self.toxic}"
        return f"{self.action} {what}"


class Healed(str):
    """What a heal did, in words, plus facts for the heal line's `data` (a restore's timings)."""

    data: dict[str, Any]

    def __new__(cls, text: str, data: dict[str, Any] | None = None) -> Healed:
        obj = super().__new__(cls, text)
        obj.data = data or {}
        return obj


class HealFailed(RuntimeError):
    """A heal that ran and failed, with what it saw (for the heal line's `data`)."""

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.data = data or {}


def _need(value: T | None, what: str) -> T:
    """A field the heal action cannot do without (a ledger line written by hand or by an older drills)."""
    if value is None:
        raise RuntimeError(f"{what} is needed")
    return value


def execute(action: HealAction, client: docker.DockerClient | None) -> str:
    """Perform one heal action; returns what was done. Raises only when the action truly failed."""
    try:
        if action.action in ("remove_toxic", "enable_proxy"):
            return _toxiproxy_heal(action, _need(action.toxiproxy, "the Toxiproxy URL"),
                                   _need(action.proxy, "the proxy name"))
        if action.action not in ("start", "unpause", "iptables_remove", "remove_container", "restore_cluster",
                                 "take_backup"):
            raise RuntimeError(f"unknown heal action {action.action!r}")
        client = _need(client, "a Docker client")
        if action.action == "start":
            c = client.containers.get(action.container)
            if c.status == "paused":
                c.unpause()
            if c.status != "running":
                c.start()
                return f"started {c.name}"
            return f"{c.name} already running"
        if action.action == "unpause":
            c = client.containers.get(action.container)
            if c.status == "paused":
                c.unpause()
                return f"unpaused {c.name}"
            return f"{c.name} not paused"
        if action.action == "iptables_remove":
            return _iptables_remove(client, action)
        if action.action == "remove_container":
            client.containers.get(action.container).remove(force=True)
            return f"removed {action.name or action.container}"
        if action.action == "restore_cluster":
            return _restore(client, action)
        if action.action == "take_backup":
            from drills.platform import backups
            from drills.platform.stack import Stack

            try:
                made = backups.first_backup(Stack(client, _need(action.stack, "the stack name")))
            except backups.BackupError as exc:
                raise RuntimeError(f"new full backup failed: {exc.message}") from None
            return f"took a new full backup {made.label} ({made.duration_s:.0f}s)"
    except NotFound:
        return f"{action.describe()}: already gone"
    except HealFailed:
        raise
    except (APIError, ToxiproxyError) as exc:
        raise RuntimeError(f"{action.describe()} failed: {getattr(exc, 'explanation', None) or exc}") from None
    raise RuntimeError(f"unknown heal action {action.action!r}")


def _toxiproxy_heal(action: HealAction, url: str, proxy: str) -> str:
    if action.action == "enable_proxy":
        ToxiproxyClient(url).set_enabled(proxy, True)
        return f"enabled proxy {proxy}"
    toxic = _need(action.toxic, "the toxic name")
    gone = ToxiproxyClient(url).remove_toxic(proxy, toxic)
    return f"removed toxic {proxy}/{toxic}" if gone else f"toxic {toxic} already gone"


def _restore(client: docker.DockerClient, action: HealAction) -> str:
    """Heal a lost cluster (restore the latest backup unless it serves again) or an operator's mistake
    (point-in-time restore to just before it)."""
    from drills.platform import backups, restore
    from drills.platform.stack import Stack

    stack = Stack(client, _need(action.stack, "the stack name"))
    waiting_since = time.time()
    with restore.LOCK:  # a scheduled restore may be running right now
        if restore.restored_since(stack.name, waiting_since):
            return "a restore finished meanwhile: nothing to restore"
        if not stack.exists():
            return f"stack {action.stack} is gone: nothing to restore"
        if action.before is None:
            try:
                _, node = backups.leader(stack)
                if restore.writable(node):
                    return "database cluster serves again: nothing to restore"
            except backups.BackupError:
                pass
        return _run_restore(stack, action)


def _run_restore(stack, action: HealAction) -> str:
    from drills.platform import restore

    res = restore.restore_cluster(stack, before=action.before, xid=action.xid, log=lambda _m: None,
                                  patroni_ports=action.ports)
    if not res.ok:
        raise HealFailed(f"restore failed: {res.error}", {"restore": res.to_dict()})
    return Healed(f"restored the database cluster from {res.set_used} in {res.duration_s:.1f}s",
                  {"restore": res.to_dict()})


def _iptables_remove(client: docker.DockerClient, action: HealAction) -> str:
    """Delete our chains in the target's namespace, through the sidecar that added them."""
    try:
        sidecar = client.containers.get(action.sidecar)
    except NotFound:
        return f"sidecar for {action.name} gone (the target restarted: its rules went with its namespace)"
    if sidecar.status != "running":
        return f"sidecar for {action.name} not running (the target's namespace is gone with its rules)"
    script = []
    for chain in action.chains:
        hook = "INPUT" if chain.endswith("I") else "OUTPUT"
        script.append(f"while iptables -w -D {hook} -j {chain} 2>/dev/null; do :; done; "
                      f"iptables -w -F {chain} 2>/dev/null; iptables -w -X {chain} 2>/dev/null")
    code, out = sidecar.exec_run(["sh", "-c", "; ".join(script) + "; iptables -w -S | grep -c ' DR' || true"])
    remaining = out.decode(errors="replace").strip().splitlines()
    if remaining and remaining[-1].isdigit() and int(remaining[-1]) > 0:
        leftover = sidecar.exec_run(["sh", "-c", "iptables -w -S | grep ' DR'"])[1].decode(errors="replace")
        if any(ch in leftover for ch in action.chains):
            raise RuntimeError(f"iptables rules still present on {action.name}: {leftover.strip()}")
    return f"removed iptables chains {','.join(action.chains)} on {action.name}"
