"""The load configuration handed from the harness to the Locust processes (a JSON file plus env vars).

Locust runs in its own processes, so nothing can be passed in memory: the harness writes
`<run_dir>/load/config.json` and points the processes at it with `DRILLS_LOAD_CONFIG`. Secrets (the run
secret that derives passwords) travel only in the environment, never in this file.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from drills.rundir import files
from drills.scenario.model import LoadSection, Phases

ENV_CONFIG = "DRILLS_LOAD_CONFIG"     # path of config.json
ENV_WORKER = "DRILLS_LOAD_WORKER"     # this process's name in history/stats ("w0", "w1", ...)
ENV_HISTORY = "DRILLS_LOAD_HISTORY"   # this process's history file (defaults from run_dir and worker)
ENV_SECRET = "DRILLS_RUN_SECRET"      # derives every synthetic password (the state dir keeps it for the audit)
ENV_TOKENS = "DRILLS_LOAD_TOKENS"     # owner-only folder for the session tokens seen (drills/rundir/vault.py)
ENV_PARENT = "DRILLS_LOAD_PARENT"     # pid of the harness: Locust stops itself when that process is gone
# Load beyond one machine (docs/load.md): read by the harness when it starts the master.
ENV_REMOTE_WORKERS = "DRILLS_LOAD_REMOTE_WORKERS"  # how many workers on other machines the master waits for
ENV_MASTER_BIND = "DRILLS_LOAD_MASTER_BIND"        # e.g. 0.0.0.0 so those workers can connect
ENV_MASTER_PORT = "DRILLS_LOAD_MASTER_PORT"        # a fixed port for them (default: any free port)

LOAD_SUBDIR = "load"                  # Locust's own files inside the run dir: config, logs, markers, summary
BUILTIN = "builtin"
DEFAULT_MIX = {"purchase": 70.0, "browse": 20.0, "rotate_password": 5.0, "login": 5.0}
BUILTIN_OPS = ("purchase", "browse", "rotate_password", "login")


@dataclass
class LoadConfig:
    """Everything a Locust process needs; JSON round-trips through `write`/`read`."""

    api_url: str
    run_dir: str
    seed: int
    duration: float                      # warmup + steady + recovery: the planned length of the load
    profile: dict[str, Any] = field(default_factory=lambda: {"type": "constant_users", "users": 20,
                                                              "spawn_rate": 10.0})
    workers: int = 0                     # 0 = one local process; N = master + N workers
    remote_workers: int = 0              # workers on other machines the master also waits for
    builtin: bool = True                 # the reference-stack workload (drills/load/locust_side/locustfile.py)
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    hot_share: float = 0.8
    hot_seats: int = 200
    request_timeout: float = 5.0
    max_retries: int = 3
    think_time: tuple[float, float] = (0.5, 1.5)  # closed-model users: seconds between operations
    history: bool = True                 # write history*.jsonl (off only for the benchmark's baselines)
    stats: bool = True                   # write stats.jsonl (idem)
    flush_interval: float = 1.0          # history is flushed at least this often (a crash loses at most this)
    grace: float = 30.0                  # Locust stops itself this long after `duration` if nobody stopped it
    # op -> the response./request. sources of a declared audit its history lines carry (the recorder extracts
    # them from the bodies: drills/load/locust_side/recorder.py)
    record: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_section(cls, load: LoadSection, phases: Phases, api_url: str, run_dir: Path, seed: int) -> LoadConfig:
        profile = asdict(load.profile)
        return cls(
            api_url=api_url.rstrip("/"), run_dir=str(run_dir), seed=int(seed), duration=float(phases.total),
            profile=profile, workers=int(load.workers), builtin=load.locustfile == BUILTIN,
            mix={str(k): float(v) for k, v in (load.mix or DEFAULT_MIX).items()},
            hot_share=float(load.hot_share), hot_seats=int(load.hot_seats),
            request_timeout=float(load.request_timeout), max_retries=int(load.max_retries),
        )

    @property
    def distributed(self) -> bool:
        return self.workers + self.remote_workers > 0

    @property
    def process_count(self) -> int:
        """How many Locust processes generate load (each offers its share of an arrival rate)."""
        return max(1, self.workers + self.remote_workers)

    @property
    def stop_timeout(self) -> float:
        """Time Locust gives users to finish the operation in flight when stopping."""
        return self.request_timeout + 2.0

    def load_dir(self) -> Path:
        return Path(self.run_dir) / LOAD_SUBDIR

    def history_path(self, worker: str) -> Path:
        """history.jsonl for a single process, history-<worker>.jsonl for each worker (docs/run-directory.md)."""
        return Path(self.run_dir) / files.history_of(worker if self.distributed else None)

    def stats_path(self) -> Path:
        return Path(self.run_dir) / files.STATS

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)

    @classmethod
    def read(cls, path: Path) -> LoadConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadConfig:
        """From `asdict` output (the JSON file, or the config message a remote worker gets)."""
        data = dict(data)
        data["think_time"] = tuple(data.get("think_time", (0.5, 1.5)))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_env(cls) -> LoadConfig | None:
        """The config of this Locust process, or None when Locust was started without the harness."""
        path = os.environ.get(ENV_CONFIG)
        return cls.read(Path(path)) if path else None


def worker_name() -> str:
    """This process's name: set by the harness; a remote worker without it is named host-pid."""
    return os.environ.get(ENV_WORKER) or f"{os.uname().nodename}-{os.getpid()}"
