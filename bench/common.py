"""What the bench modules share: the `--quick` / `--offline` switches, synthetic output and a clear exit.

Every module has a full mode (the default, what `make bench` runs) and `--quick`: the same code path on
tiny sizes. Modules that need a Docker engine also take `--offline`: only the part that needs no engine
(argument parsing, data generators, and the number crunching and printing fed with synthetic data; each
such line is marked `[synthetic]`: it checks the code and measures nothing). `--quick --offline` is what
tests/unit/test_bench_quick.py runs, so the benchmarks cannot rot unnoticed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drills.errors import DrillError, EngineUnavailable

if TYPE_CHECKING:
    from drills.platform.stack import Stack
    from drills.platform.stack_spec import StackOptions

SYNTHETIC = "[synthetic] "


def add_modes(parser: argparse.ArgumentParser, docker: bool = True) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: the same code path in seconds (the unit suite runs this)")
    if docker:
        parser.add_argument("--offline", action="store_true",
                            help="only what needs no Docker engine: synthetic data through the same number "
                                 "crunching and printing (checks the code, measures nothing)")


def add_only(parser: argparse.ArgumentParser, parts: tuple[str, ...]) -> None:
    """`--only`: a comma-separated subset of a module's parts (default: all of them)."""
    parser.add_argument("--only", default=",".join(parts), help=f"comma-separated subset of {', '.join(parts)}")


def chosen_parts(parser: argparse.ArgumentParser, only: str, parts: tuple[str, ...]) -> set[str]:
    """The parts `--only` names; an unknown one is a usage error (exit 2) listing the choices."""
    chosen = {part.strip() for part in only.split(",") if part.strip()}
    if unknown := chosen - set(parts):
        parser.error(f"--only: unknown {', '.join(sorted(unknown))} (choose from {', '.join(parts)})")
    return chosen


def synthetic(text: str) -> None:
    """Print lines computed from synthetic data, each marked so nobody mistakes them for measurements."""
    for line in text.splitlines():
        print(SYNTHETIC + line, flush=True)


def offline_done(prog: str) -> int:
    print(f"{prog}: --offline: skipped everything that needs a Docker engine", flush=True)
    return 0


def fail(prog: str, exc: DrillError) -> int:
    """One clear message (no traceback) and the CLI's exit code for an error we expect, e.g. no engine."""
    sys.stdout.flush()
    print(f"{prog}: error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"{prog}: hint: {exc.hint}", file=sys.stderr)
    if isinstance(exc, EngineUnavailable):
        print(f"{prog}: `{prog} --quick --offline` runs the part that needs no Docker", file=sys.stderr)
    return int(exc.exit_code)


@contextmanager
def own_stack(client: Any, opts: StackOptions, what: str, keep: bool = False,
              timeout: float = 300.0) -> Iterator[Stack]:
    """A stack of the benchmark's own, from nothing (a leftover of the same name from an interrupted run is removed
    first, so numbers never come from a stack in an unknown state) and removed at the end unless `keep`."""
    from drills.platform.stack import Stack

    stack = Stack(client, opts.name)
    if stack.exists():
        stack.down(log=lambda _m: None)
    print(f"stack {opts.name} up ({what}) ...", flush=True)
    try:
        stack.up(opts, log=lambda _m: None, timeout=timeout)
        yield stack
    finally:
        if not keep:
            stack.down(log=lambda _m: None)


def judged_in_child(module: str, run_dir: Path, what: str, env: dict[str, str] | None = None) -> dict | None:
    """Run `python -m <module> --judge RUN_DIR` in a fresh process (so its time and peak memory are the judging's
    alone) and return the JSON object it prints last; None after printing why it failed."""
    proc = subprocess.run([sys.executable, "-m", module, "--judge", str(run_dir)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        print(f"python -m {module}: error: {what} failed (exit {proc.returncode}):\n{proc.stderr.strip()[-2000:]}",
              file=sys.stderr)
        return None
    result: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    return result
