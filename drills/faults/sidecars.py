"""Network-fault sidecars started before they are needed.

Starting a container costs ~250 ms, which made iptables faults land that late (p99 329 ms against < 100 ms
for the other families). The pool starts one sleeping sidecar (drills/tools, NET_ADMIN) in each node's
network namespace before the load starts; an inject then only execs iptables in it. A sidecar belongs to
the namespace of the target *as it was started*: when the target has been restarted since (a kill healed
by a start), the sidecar sits in a dead namespace, so `take` notices (the target's StartedAt changed) and
starts a fresh one. Pooled sidecars stay until the end of the run (heals use them to delete the rules); they
are in the ledger (entry `sidecars`) and carry the run's label, so `drill clean --heal-only` and `drill
clean` remove them after a crash.

Each pooled sidecar also keeps a shell open (sidecar_shell.py): a `docker exec` per command cost 60-250 ms more,
so injects and heals send their script to that shell and fall back to a fresh exec only when it is gone.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker
from docker.errors import APIError, ImageNotFound, NotFound
from docker.models.containers import Container

from drills.faults.ledger import SIDECARS_KEY, HealAction, Ledger
from drills.faults.sidecar_shell import ShellError, ShellSession, open_in_container
from drills.platform import labels
from drills.platform.images import image_tag
from drills.platform.inventory import Node, TargetError


def start_sidecar(client: docker.DockerClient, run_id: str, node: Node, tag: str):
    """A sleeping drills/tools container with NET_ADMIN in `node`'s network namespace, labelled for cleanup."""
    try:
        client.images.get(image_tag("tools"))   # never pulled: `containers.run` would try a registry
        return client.containers.run(
            image_tag("tools"), detach=True, name=f"drills-nf-{tag}-{node.service}"[:63],
            network_mode=f"container:{node.container_id}", cap_add=["NET_ADMIN"],
            labels={labels.RUN: run_id, labels.KIND: "netfault", "drills.target": node.container_name,
                    **labels.owner_label()},
        )
    except ImageNotFound:   # an attached system's drill builds no stack images: say which one is missing
        raise TargetError(f"the network-fault image {image_tag('tools')} is missing: build it with "
                          "`drill images build`") from None


def exec_script(sidecar: Container, script: str) -> tuple[int, str]:
    """Run a shell script in a sidecar through a fresh `docker exec` (no pool, or its shell is gone; `drill
    clean`): (exit status, stdout and stderr)."""
    code, out = sidecar.exec_run(["sh", "-ec", script])
    return int(code or 0), out.decode(errors="replace")


def _started_at(container) -> str:
    return (container.attrs.get("State") or {}).get("StartedAt", "")


@dataclass
class _Entry:
    sidecar: Container
    target_started_at: str   # the target's State.StartedAt when the sidecar joined its namespace
    shell: ShellSession | None = None   # its open shell (None: it could not be opened; exec then)


class SidecarPool:
    LEDGER_KEY = SIDECARS_KEY

    def __init__(self, client: docker.DockerClient, run_id: str, ledger: Ledger,
                 log: Callable[[str], None] = lambda _m: None):
        self.client = client
        self.run_id = run_id
        self.ledger = ledger
        self.log = log
        self._entries: dict[str, _Entry] = {}   # target container id -> sidecar
        self._by_sidecar: dict[str, _Entry] = {}   # sidecar container id -> the same entries
        self._lock = threading.Lock()

    def warm(self, nodes: list[Node]) -> int:
        """Start a sidecar for every running node, in parallel; returns how many are ready."""
        self.ledger.register(self.LEDGER_KEY, self.LEDGER_KEY, "netfault-sidecars", [])
        with ThreadPoolExecutor(max_workers=8) as pool:
            done = list(pool.map(self._warm_one, nodes))
        return sum(done)

    def _warm_one(self, node: Node) -> bool:
        try:
            target = self.client.containers.get(node.container_id)
            if target.status == "running":
                self._start(node, target)
                return True
        except (APIError, NotFound) as exc:
            self.log(f"no pre-started sidecar for {node.service}: {getattr(exc, 'explanation', None) or exc}")
        return False

    def take(self, node: Node, target: Container) -> Container:
        """A running sidecar in `target`'s current namespace (`target` freshly read from Docker)."""
        started_at = _started_at(target)
        with self._lock:
            entry = self._entries.get(node.container_id)
        if entry is not None and entry.target_started_at == started_at:
            if entry.shell is not None and entry.shell.alive():
                return entry.sidecar   # its shell's stream is open: the sidecar runs (no round trip to Docker)
            try:
                entry.sidecar.reload()
                if entry.sidecar.status == "running":
                    return entry.sidecar
            except NotFound:
                pass
        if entry is not None:
            self._drop(entry)
            self._remove(entry.sidecar)
        return self._start(node, target)

    def run(self, sidecar: Container, script: str) -> tuple[int, str]:
        """Run a script in one of the pool's sidecars: through its open shell, else a fresh `docker exec`."""
        got = self.run_by_id(sidecar.id, script)
        return got if got is not None else exec_script(sidecar, script)

    def run_by_id(self, sidecar_id: str, script: str) -> tuple[int, str] | None:
        """`run` in the pool's sidecar with this id through its shell; None when there is no open shell (the
        caller then looks the container up and execs: it may be gone)."""
        with self._lock:
            entry = self._by_sidecar.get(sidecar_id)
        if entry is None or entry.shell is None or not entry.shell.alive():
            return None
        try:
            return entry.shell.run(script)
        except ShellError as exc:
            self.log(f"the shell in sidecar {entry.sidecar.name} failed ({exc}): using docker exec")
            return None

    def _start(self, node: Node, target: Container) -> Container:
        started_at = _started_at(target)
        tag = hashlib.sha1(f"{self.run_id}:{node.container_id}:{started_at}".encode()).hexdigest()[:8]
        sidecar = start_sidecar(self.client, self.run_id, node, tag)
        self.ledger.extend(self.LEDGER_KEY, [HealAction("remove_container", container=sidecar.id, name=sidecar.name)])
        shell = None
        try:
            shell = open_in_container(self.client.api, sidecar.id)
        except (APIError, OSError) as exc:
            self.log(f"no shell in the sidecar of {node.service} ({getattr(exc, 'explanation', None) or exc}): "
                     "its faults use docker exec")
        entry = _Entry(sidecar, started_at, shell)
        with self._lock:
            self._entries[node.container_id] = entry
            self._by_sidecar[sidecar.id] = entry
        return sidecar

    def _drop(self, entry: _Entry) -> None:
        with self._lock:
            self._by_sidecar.pop(entry.sidecar.id, None)
        if entry.shell is not None:
            entry.shell.close()

    def close(self) -> None:
        """Remove every pooled sidecar (after the heals: they delete the rules through them)."""
        with self._lock:
            entries, self._entries, self._by_sidecar = list(self._entries.values()), {}, {}
        for entry in entries:
            if entry.shell is not None:
                entry.shell.close()
        if entries:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda e: self._remove(e.sidecar), entries))
        self.ledger.resolve(self.LEDGER_KEY)

    @staticmethod
    def _remove(sidecar) -> None:
        try:
            sidecar.remove(force=True)
        except (APIError, NotFound):
            pass
