"""Show the example system losing acknowledged orders, without drills: write, partition, heal, read back, count.

    sudo python3 examples/redis-orders/partition_by_hand.py [--partition 10] [--writers 4]

Needs the example system up (`examples/redis-orders/example.sh up`), root (the partition is iptables run in
redis-a's network namespace with nsenter, the same rules a drill's sidecar adds) and nothing but the standard
library. It writes orders with fresh ids from a few threads, cuts the current master off from the replica and the
Sentinels for `--partition` seconds while the order service still reaches it, heals, keeps writing until the
old master has been turned into a replica, waits until /readyz holds, reads every order back through the paged
GET /orders and prints what happened to the acknowledged writes. It is the drill `primary-partition.yaml` done
by hand; the drill is the way to run it, this script only proves the system's behaviour on its own.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

PROJECT = "drills-example"
CHAIN = "EXAMPLEPART"


@dataclass
class Write:
    id: str
    invoke: float
    complete: float
    outcome: str            # ok / fail / info, as drills classifies them
    detail: str = ""


@dataclass
class Log:
    writes: list[Write] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, w: Write) -> None:
        with self.lock:
            self.writes.append(w)


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def containers() -> dict[str, dict]:
    """The project's containers by name, with their service, pid and addresses."""
    names = docker("ps", "--filter", f"label=com.docker.compose.project={PROJECT}", "--format", "{{.Names}}")
    found = {}
    for name in names.split():
        info = json.loads(docker("inspect", name))[0]
        found[name] = {"service": info["Config"]["Labels"].get("com.docker.compose.service"),
                       "pid": info["State"]["Pid"],
                       "ips": [n["IPAddress"] for n in info["NetworkSettings"]["Networks"].values()]}
    return found


def role(name: str) -> str:
    return docker("exec", name, "redis-cli", "role").split("\n", 1)[0]


def iptables(pid: int, *args: str) -> None:
    subprocess.run(["nsenter", "-t", str(pid), "-n", "iptables", "-w", *args], check=True, capture_output=True)


def partition(master: dict, peers: list[str]) -> None:
    iptables(master["pid"], "-N", CHAIN)
    for ip in peers:
        iptables(master["pid"], "-A", CHAIN, "-s", ip, "-j", "DROP")
        iptables(master["pid"], "-A", CHAIN, "-d", ip, "-j", "DROP")
    iptables(master["pid"], "-I", "INPUT", "1", "-j", CHAIN)
    iptables(master["pid"], "-I", "OUTPUT", "1", "-j", CHAIN)


def heal(master: dict) -> None:
    for hook in ("INPUT", "OUTPUT"):
        subprocess.run(["nsenter", "-t", str(master["pid"]), "-n", "iptables", "-w", "-D", hook, "-j", CHAIN],
                       capture_output=True)
    subprocess.run(["nsenter", "-t", str(master["pid"]), "-n", "iptables", "-w", "-F", CHAIN], capture_output=True)
    subprocess.run(["nsenter", "-t", str(master["pid"]), "-n", "iptables", "-w", "-X", CHAIN], capture_output=True)


def request(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None
            ) -> tuple[int, dict, dict]:
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    resp = conn.getresponse()
    raw = resp.read()
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {}
    return resp.status, parsed, dict(resp.getheaders())


def writer(port: int, tag: str, n: int, stop: threading.Event, log: Log, pause: float) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    seq = 0
    while not stop.is_set():
        seq += 1
        oid = f"{tag}-{n}-{seq}"
        t0 = time.time()
        try:
            status, body, headers = request(conn, "POST", "/orders", {"id": oid, "item": "hand"})
            if 200 <= status < 300:
                outcome = "ok"
            elif body.get("outcome") == "fail":
                outcome = "fail"
            else:
                outcome = "info"
            log.add(Write(oid, t0, time.time(), outcome, f"{status} {body.get('error', '')}".strip()))
        except ConnectionRefusedError as exc:
            log.add(Write(oid, t0, time.time(), "fail", type(exc).__name__))
            conn.close()
        except (OSError, http.client.HTTPException) as exc:
            log.add(Write(oid, t0, time.time(), "info", type(exc).__name__))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        time.sleep(pause)


def read_all(port: int) -> list[str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    ids: list[str] = []
    cursor = None
    while True:
        status, body, _ = request(conn, "GET", "/orders?limit=1000" + (f"&cursor={cursor}" if cursor else ""))
        if status != 200:
            raise SystemExit(f"GET /orders answered {status}: {body}")
        ids.extend(item["id"] for item in body["items"])
        cursor = body.get("next")
        if not cursor:
            return ids


def wait_ready(port: int, hold: float, timeout: float) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    t0, since = time.time(), None
    while time.time() - t0 < timeout:
        try:
            status, _, _ = request(conn, "GET", "/readyz")
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        if status == 200:
            since = since or time.time()
            if time.time() - since >= hold:
                return time.time() - t0
        else:
            since = None
        time.sleep(0.2)
    raise SystemExit(f"/readyz did not hold 200 for {hold}s within {timeout}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--pause", type=float, default=0.02, help="seconds between two writes of one writer")
    ap.add_argument("--before", type=float, default=5.0, help="seconds of writes before the partition")
    ap.add_argument("--partition", type=float, default=10.0, help="seconds the master is cut off")
    ap.add_argument("--after", type=float, default=20.0, help="seconds of writes after the heal")
    ap.add_argument("--json", action="store_true", help="also print the counts as one JSON line at the end")
    args = ap.parse_args()

    found = containers()
    redis = {n: c for n, c in found.items() if c["service"] in ("redis-a", "redis-b")}
    sentinels = [c for c in found.values() if c["service"] == "sentinel"]
    masters = [n for n in redis if role(n) == "master"]
    if len(masters) != 1 or len(sentinels) != 3:
        raise SystemExit(f"expected one master and three sentinels, found masters {masters}, "
                         f"{len(sentinels)} sentinels: is the example up and settled?")
    master_name = masters[0]
    master = redis[master_name]
    peers = [ip for n, c in redis.items() if n != master_name for ip in c["ips"]] + [
        ip for c in sentinels for ip in c["ips"]]
    wait_ready(args.port, 2.0, 60)

    log, stop, tag = Log(), threading.Event(), f"hand-{uuid.uuid4().hex[:8]}"
    threads = [threading.Thread(target=writer, args=(args.port, tag, i, stop, log, args.pause), daemon=True)
               for i in range(args.writers)]
    for t in threads:
        t.start()
    time.sleep(args.before)
    print(f"partition: {master_name} ({master['service']}) cut off from {len(peers)} peers "
          f"(replica + sentinels) for {args.partition:g}s")
    t_cut = time.time()
    partition(master, peers)
    try:
        time.sleep(args.partition)
    finally:
        heal(master)
    t_heal = time.time()
    print("healed; roles now: " + ", ".join(f"{n}={role(n)}" for n in sorted(redis)))
    time.sleep(args.after)
    stop.set()
    for t in threads:
        t.join(10)
    ready_after = wait_ready(args.port, 3.0, 120)
    print("roles at the end: " + ", ".join(f"{n}={role(n)}" for n in sorted(redis)))

    present = set(read_all(args.port))
    writes = log.writes
    acked = [w for w in writes if w.outcome == "ok"]
    lost = sorted((w for w in acked if w.id not in present), key=lambda w: w.complete)
    failed_present = [w for w in writes if w.outcome == "fail" and w.id in present]
    info = [w for w in writes if w.outcome == "info"]
    info_applied = [w for w in info if w.id in present]
    print(f"writes: {len(writes)}  acknowledged: {len(acked)}  failed: {sum(w.outcome == 'fail' for w in writes)}  "
          f"indeterminate: {len(info)} (applied {len(info_applied)})  ready again {ready_after:.1f}s after the "
          f"writes stopped")
    errors = Counter(f"{w.outcome} {w.detail}" for w in writes if w.outcome != "ok")
    if errors:
        print("not acknowledged: " + ", ".join(f"{k} x{v}" for k, v in errors.most_common()))
    print(f"LOST acknowledged writes: {len(lost)}   failed-but-present (unexpected): {len(failed_present)}")
    if lost:
        rel = [(w.complete - t_cut) for w in lost]
        print(f"lost writes were acknowledged between {min(rel):+.1f}s and {max(rel):+.1f}s from the cut "
              f"(heal at {t_heal - t_cut:+.1f}s)")
        print("first lost ids: " + ", ".join(w.id for w in lost[:10]))
    if args.json:
        print(json.dumps({"writes": len(writes), "acknowledged": len(acked), "lost": len(lost),
                          "unexpected": len(failed_present), "indeterminate": len(info),
                          "indeterminate_applied": len(info_applied), "lost_sample": [w.id for w in lost[:20]],
                          "present": len(present)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
