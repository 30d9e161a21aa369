"""Where the CPU of a purchase goes: per-container CPU seconds during a fixed closed-loop purchase run.

    python -m bench.cpu [--stack NAME] [--seconds S] [--workers N] [--client asyncio|requests]

Every container of the stack is read from its cgroup's CPU counter (cgroup v1 cpuacct or v2 cpu.stat; the
Docker stats API where neither is readable) right before and right after `--seconds` of closed-loop purchases
through HAProxy (bench.purchases); the generator is this process. Components: the API replicas, the PostgreSQL
leader, its standbys, HAProxy, Toxiproxy, etcd, the rest of the stack, the generator, and the rest of the
machine (host busy time minus all of those: other work sharing the cores). Each gets CPU seconds, its share of
what the drill used, and CPU milliseconds per acknowledged purchase: on a shared machine the absolute numbers
move with the neighbours, the shares and the per-purchase costs much less. The load average is printed with
every measurement.

With `--stack NAME` of a running stack, that stack is measured and kept; otherwise the module starts its own
(`cpubench`, no monitoring, no backups, a large hot event) and removes it. `--quick`: a synthetic pass of the
table, then 3 s with 4 clients; `--offline`: only the synthetic pass (what the unit suite runs).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import requests

from bench.common import add_modes, fail, offline_done, synthetic
from bench.purchases import CLIENTS, Throughput, buyers_for, measure_with
from drills.errors import DrillError
from drills.load.locust_side.stats import percentile

PROG = "python -m bench.cpu"
OWN_STACK = "cpubench"
#: Components in print order; "stack other" is every container of the stack not named by a rule here.
COMPONENTS = ("api", "pg leader", "pg standbys", "haproxy", "toxiproxy", "etcd", "stack other", "generator",
              "rest of machine")


def component_of(service: str, role: str, leader: str | None) -> str:
    """Which component a stack container's CPU counts for (service name, static role label, current leader)."""
    if role == "api" or service.startswith("api"):
        return "api"
    if role == "postgres" or service.startswith("pg"):
        return "pg leader" if service == leader else "pg standbys"
    if role == "lb" or service.startswith("haproxy"):
        return "haproxy"
    if role == "proxy" or service == "toxiproxy":
        return "toxiproxy"
    if role == "etcd" or service.startswith("etcd"):
        return "etcd"
    return "stack other"


def _cgroup_files(container_id: str) -> list[Path]:
    return [Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage"),
            Path(f"/sys/fs/cgroup/cpu,cpuacct/docker/{container_id}/cpuacct.usage"),
            Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat"),
            Path(f"/sys/fs/cgroup/docker/{container_id}/cpu.stat")]


def container_cpu_s(container) -> float:
    """Cumulative CPU seconds of one container: its cgroup counter when this host exposes it (instant), else
    the Docker stats API (about a second per call, so callers read containers in parallel)."""
    for path in _cgroup_files(container.id):
        try:
            text = path.read_text()
        except OSError:
            continue
        if path.name == "cpuacct.usage":
            return int(text) / 1e9
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
    stats = container.stats(stream=False)
    return int(stats["cpu_stats"]["cpu_usage"]["total_usage"]) / 1e9


def host_busy_s() -> float:
    """CPU seconds the whole machine spent busy since boot (everything but idle and iowait)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def own_cpu_s() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


@dataclass
class Snapshot:
    """CPU counters at one instant: per stack service, the generator (this process) and the host."""

    services: dict[str, float]
    generator: float
    host: float
    t: float


def snapshot(containers: Mapping[str, object]) -> Snapshot:
    with ThreadPoolExecutor(max(1, len(containers))) as pool:
        values = dict(zip(containers, pool.map(container_cpu_s, containers.values()), strict=True))
    return Snapshot(values, own_cpu_s(), host_busy_s(), time.monotonic())


def breakdown(before: Snapshot, after: Snapshot, component: Callable[[str], str]) -> dict[str, float]:
    """CPU seconds per component between two snapshots (services missing from either side are skipped)."""
    out = dict.fromkeys(COMPONENTS, 0.0)
    for service, end in after.services.items():
        if service in before.services:
            out[component(service)] += max(0.0, end - before.services[service])
    out["generator"] = max(0.0, after.generator - before.generator)
    measured = sum(out.values())
    out["rest of machine"] = max(0.0, (after.host - before.host) - measured)
    return out


def table(cpu: dict[str, float], seen: Throughput, wall_s: float, load: tuple[float, float, float],
          cores: int, client: str, replicas: dict[str, int]) -> str:
    """The breakdown as text: CPU s, share of the drill's CPU (the rest of the machine excluded), ms per purchase."""
    drill = sum(v for k, v in cpu.items() if k != "rest of machine")
    lat = sorted(seen.latencies)
    lines = [f"  {seen.workers} closed-loop {client} clients, {wall_s:.1f} s, load average before "
             f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {cores} cores",
             f"  {'component':<16} {'n':>3} {'cpu s':>7} {'cores':>6} {'share':>6} {'ms/purchase':>12}"]
    for name in COMPONENTS:
        share = f"{100 * cpu[name] / drill:5.1f}%" if name != "rest of machine" and drill else "     -"
        per = 1000 * cpu[name] / seen.ok if seen.ok else float("nan")
        n = str(replicas.get(name, "")) if replicas.get(name) else ""
        lines.append(f"  {name:<16} {n:>3} {cpu[name]:7.2f} {cpu[name] / wall_s:6.2f} {share:>6} {per:12.2f}")
    per_drill = 1000 * drill / seen.ok if seen.ok else float("nan")
    lines.append(f"  {'drill total':<16} {'':>3} {drill:7.2f} {drill / wall_s:6.2f} {'100%':>6} {per_drill:12.2f}")
    lines.append(f"cpu.purchases_per_s           {seen.ok / seen.seconds:8.1f}   "
                 f"p50 {percentile(lat, 50) or 0:.0f} ms  p99 {percentile(lat, 99) or 0:.0f} ms  ({seen.other} not ok)")
    lines.append(f"cpu.drill_ms_per_purchase     {per_drill:8.2f}   (all cores; the machine can give "
                 f"{1000 * cores:.0f} ms per second: {cores * seen.ok / drill if drill else 0:.0f} purchases/s "
                 f"at this cost with nothing else running)")
    api_ms = 1000 * cpu["api"] / seen.ok if seen.ok else float("nan")
    lines.append(f"cpu.api_ms_per_purchase       {api_ms:8.2f}")
    return "\n".join(lines)


def run(containers: Mapping[str, object], component: Callable[[str], str], base_url: str, seconds: float,
        workers: int, client: str) -> str:
    """Measure one purchase run and return the table."""
    buyers = buyers_for(base_url, workers)
    load = os.getloadavg()
    before = snapshot(containers)
    seen = measure_with(client, base_url, seconds, workers, buyers)
    after = snapshot(containers)
    cpu = breakdown(before, after, component)
    replicas: dict[str, int] = {}
    for service in containers:
        replicas[component(service)] = replicas.get(component(service), 0) + 1
    return table(cpu, seen, after.t - before.t, load, psutil.cpu_count() or 1, client, replicas)


def bench_stack(stack, seconds: float, workers: int, client: str, api_url: str | None = None) -> None:
    from drills.platform import labels

    status = stack.status()
    leader = status.leader()
    containers = {s: c for s, c in stack.containers().items() if c.status == "running"}
    roles = {s: c.labels.get(labels.ROLE, "") for s, c in containers.items()}
    url = api_url or status.endpoints["api"]
    print(run(containers, lambda s: component_of(s, roles.get(s, ""), leader), url, seconds, workers, client),
          flush=True)


def synthetic_table(seconds: float, workers: int, client: str, seed: int = 1) -> str:
    """The table over made-up counters (no Docker): checks the arithmetic and the printing, measures nothing."""
    rng = random.Random(seed)
    services = {"api1": "api", "api2": "api", "api3": "api", "pg1": "postgres", "pg2": "postgres",
                "pg3": "postgres", "haproxy": "lb", "toxiproxy": "proxy", "etcd1": "etcd", "tools": "tools"}
    before = Snapshot({s: rng.uniform(0, 100) for s in services}, 1.0, 1000.0, 0.0)
    per_s = {"api": 0.3, "postgres": 0.15, "lb": 0.03, "proxy": 0.08, "etcd": 0.01, "tools": 0.0}
    after = Snapshot({s: before.services[s] + per_s[r] * seconds for s, r in services.items()},
                     1.0 + 0.1 * seconds, 1000.0 + 1.9 * seconds, seconds)
    seen = Throughput(seconds, workers, ok=int(250 * seconds), other=rng.randrange(3),
                      latencies=[rng.lognormvariate(3.5, 0.4) for _ in range(int(250 * seconds))])

    def component(s: str) -> str:
        return component_of(s, services[s], "pg1")

    cpu = breakdown(before, after, component)
    replicas: dict[str, int] = {}
    for s in services:
        replicas[component(s)] = replicas.get(component(s), 0) + 1
    return table(cpu, seen, seconds, (1.0, 1.0, 1.0), 2, client, replicas)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--stack", help="measure this running stack (kept); default: start and remove one")
    parser.add_argument("--seconds", type=float, default=None, help="purchase run length (default 20; --quick 3)")
    parser.add_argument("--workers", type=int, default=None, help="closed-loop clients (default 32; --quick 4)")
    parser.add_argument("--client", choices=CLIENTS, default="asyncio", help="generator kind (default asyncio)")
    parser.add_argument("--api-url", help="buy through this URL instead of the stack's client endpoint (e.g. one "
                                          "load balancer's published port)")
    add_modes(parser)
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (3.0 if args.quick else 20.0)
    workers = args.workers if args.workers is not None else (4 if args.quick else 32)
    if seconds <= 0 or workers < 1:
        parser.error("--seconds and --workers must be positive")
    if args.quick or args.offline:
        synthetic(synthetic_table(seconds, workers, args.client))
    if args.offline:
        return offline_done(PROG)
    try:
        from drills.platform import engine
        from drills.platform.stack import Stack
        from drills.platform.stack_spec import StackOptions

        client = engine.connect()
        if args.stack:
            bench_stack(Stack(client, args.stack), seconds, workers, args.client, args.api_url)
            return 0
        stack = Stack(client, OWN_STACK)
        try:
            stack.up(StackOptions(name=OWN_STACK, hot_event_seats=500000, monitoring=False, backups=False),
                     log=lambda m: None)
            bench_stack(stack, seconds, workers, args.client, args.api_url)
        finally:
            stack.down(log=lambda m: None)
    except DrillError as exc:
        return fail(PROG, exc)
    except requests.RequestException as exc:  # the API did not answer the buyers' registration
        print(f"{PROG}: error: the API does not answer: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
