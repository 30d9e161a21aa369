"""`python -m bench.soak`: does a long drill stay small and quick to judge? Prints, asserts nothing.

Full mode (Docker): a real drill of `--minutes` (default 30) at a sustained `--rate` of operations per second
(arrival rate, default 60/s: see RATE) against a small reference stack (no monitoring), with one leader kill at the
middle, while the memory (RSS) of the harness and of its load processes is sampled every `--every` seconds;
then the run directory's size, the time and peak memory to judge it (a fresh process, as `drill judge` would)
and to render its report, and the report's size (the aim: <= 5 MB however long the drill).

`--synthetic` (and `--quick`, which is it at 5 operations/s): no Docker: a synthetic run directory of the same
length (bench.audit's generator: history, probes, stats, events, final state) judged and rendered, so the
judge and report numbers of a long drill can be watched without running one. Memory over time is the real
drill's only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.audit import generate
from bench.common import add_modes, judged_in_child

PROG = "python -m bench.soak"
REPO = Path(__file__).resolve().parent.parent
# RATE: what the reference stack sustains on a 2-core machine with this mix (a tenth of it scrypt hashing:
# logins and rotations). Measured on an idle machine: 60/s at p50 ~10 ms and nothing dropped; 150/s is an
# overload (5 minutes: 20,439 operations, 7,701 purchases acknowledged, login p50 1.7 s, with the API's bounded
# hashing; 11,180 operations and 533 purchases before it) -- a soak measures the harness's growth, not an overload.
MINUTES, RATE, QUICK_RATE, EVERY_S = 30.0, 60.0, 5.0, 30.0
REPORT_AIM_MB = 5.0

SCENARIO = """\
name: {name}
description: bench.soak -- {minutes:g} minutes at {rate:g} operations/s, one leader kill at the middle.
seed: 11
stack:
  reference:
    monitoring: false
phases:
  warmup: 20s
  steady: {steady}s
  recovery: 30s
load:
  profile: {{type: arrival_rate, rate: {rate:g}, max_users: {users}}}
  mix: {{purchase: 70, browse: 20, rotate_password: 5, login: 5}}
faults:
  - id: kill-leader
    type: kill
    target: {{role: leader}}
    at: {kill}s
    duration: 20s
budgets:
  - {{metric: lost, max: 0}}
  - {{metric: duplicated, max: 0}}
  - {{metric: longest_outage_s, op: purchase, max: 30}}
"""


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def judge_and_render(run_dir: Path) -> dict:
    """Child process: judge the run by its recorded scenario, write result.json, render the report; timings,
    peak memory (max RSS of this process) and sizes as JSON."""
    from drills.checks.result import judge_recorded, write_result
    from drills.report.render import render_run
    from drills.rundir import files

    t = time.perf_counter()
    result = judge_recorded(run_dir)
    judge_s = time.perf_counter() - t
    judge_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_result(run_dir, result)
    t = time.perf_counter()
    render_run(run_dir)
    render_s = time.perf_counter() - t
    return {"judge_s": judge_s, "judge_maxrss_mb": judge_rss,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "render_s": render_s,
            "result_mb": (run_dir / files.RESULT).stat().st_size / 1e6,
            "report_mb": (run_dir / files.REPORT).stat().st_size / 1e6,
            "operations": result["checks"]["operations"], "verdict": result["verdict"]}


def print_judged(run_dir: Path, label: str) -> int:
    """Judge and render `run_dir` in a fresh process and print the numbers."""
    r = judged_in_child("bench.soak", run_dir, f"judging or rendering {run_dir}")
    if r is None:
        return 1
    print(f"soak.run_dir_mb        {dir_mb(run_dir):8.1f}   ({label}; {r['operations']:,} operations, "
          f"verdict {r['verdict']})")
    print(f"soak.checks_s          {r['judge_s']:8.2f}   (judging, peak RSS {r['judge_maxrss_mb']:.0f} MB)")
    print(f"soak.report_s          {r['render_s']:8.2f}   (report.html + junit.xml; peak RSS {r['maxrss_mb']:.0f} MB)")
    print(f"soak.report_mb         {r['report_mb']:8.2f}   (aim <= {REPORT_AIM_MB:g} MB; result.json "
          f"{r['result_mb']:.2f} MB)", flush=True)
    return 0


def synthetic(minutes: float, rate: float, keep: Path | None) -> int:
    run_dir = keep or Path(tempfile.mkdtemp(prefix="drills-bench-soak-"))
    try:
        seconds = minutes * 60.0
        t = time.perf_counter()
        generate(run_dir, ops=max(1, int(rate * seconds)), workers=2, seconds=seconds)
        (run_dir / "scenario.yaml").write_text(SCENARIO.format(
            name="bench-soak", minutes=minutes, rate=rate, steady=int(seconds - 50), users=50,
            kill=int(seconds / 2)))
        print(f"soak.generate_s        {time.perf_counter() - t:8.1f}   (synthetic run directory: {minutes:g} "
              f"minutes at {rate:g} operations/s)", flush=True)
        return print_judged(run_dir, f"synthetic, {minutes:g} minutes")
    finally:
        if keep is None:
            shutil.rmtree(run_dir, ignore_errors=True)


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(x) for x in f.read().split()]
                out += kids
                todo += kids
        except OSError:
            continue
    return out


def real(minutes: float, rate: float, every: float, out: Path | None, name: str) -> int:
    """A real drill, sampled while it runs."""
    seconds = minutes * 60.0
    work = Path(tempfile.mkdtemp(prefix="drills-bench-soak-"))
    scenario = work / "soak.yaml"
    scenario.write_text(SCENARIO.format(name=name, minutes=minutes, rate=rate, steady=int(seconds - 50),
                                        users=max(50, int(rate)), kill=int(seconds / 2)))
    run_dir = out or work / "run"
    drill = Path(sys.executable).with_name("drill")
    cmd = [str(drill) if drill.exists() else "drill", "run", str(scenario), "--out", str(run_dir)]
    print(f"soak.drill             {minutes:g} minutes at {rate:g} operations/s: {' '.join(cmd)}", flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = [0.0, 0.0]
    next_at = 0.0
    while proc.poll() is None:
        now = time.monotonic() - t0
        if now >= next_at:
            harness = _rss_mb(proc.pid)
            generator = sum(_rss_mb(p) for p in _descendants(proc.pid))
            peak = [max(peak[0], harness), max(peak[1], generator)]
            size = dir_mb(run_dir) if run_dir.is_dir() else 0.0
            print(f"soak.memory            t={now:6.0f}s   harness {harness:6.0f} MB   load processes "
                  f"{generator:6.0f} MB   run dir {size:7.1f} MB", flush=True)
            next_at += every
        time.sleep(1.0)
    err = proc.stderr.read() if proc.stderr else ""
    print(f"soak.memory_peak_mb    harness {peak[0]:.0f}   load processes {peak[1]:.0f}   (drill exit "
          f"{proc.returncode} after {time.monotonic() - t0:.0f} s)", flush=True)
    if not (run_dir / "events.jsonl").exists():
        print(f"{PROG}: error: the drill wrote no run directory:\n{err.strip()[-2000:]}", file=sys.stderr)
        return 1
    code = print_judged(run_dir, f"real drill, {minutes:g} minutes")
    if out is None:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"soak.run_dir           {run_dir}")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").splitlines()[0])
    p.add_argument("--minutes", type=float, default=MINUTES, help=f"drill length (default {MINUTES:g})")
    p.add_argument("--rate", type=float, default=None,
                   help=f"operations/s (default {RATE:g}; --quick {QUICK_RATE:g})")
    p.add_argument("--every", type=float, default=EVERY_S, help="seconds between memory samples")
    p.add_argument("--synthetic", action="store_true", help="a synthetic run directory instead of a drill")
    p.add_argument("--dir", type=Path, help="keep the run directory here")
    p.add_argument("--name", default="soak", help="the drill's scenario name, which names its stack (default soak)")
    p.add_argument("--judge", type=Path, help=argparse.SUPPRESS)
    add_modes(p, docker=True)
    args = p.parse_args(argv)
    if args.judge:
        print(json.dumps(judge_and_render(args.judge)))
        return 0
    rate = args.rate if args.rate is not None else (QUICK_RATE if args.quick else RATE)
    if args.minutes <= 0 or rate <= 0 or args.every <= 0:
        p.error("--minutes, --rate and --every must be positive")
    if args.synthetic or args.quick or args.offline:
        return synthetic(args.minutes, rate, args.dir)
    return real(args.minutes, rate, args.every, args.dir, args.name)


if __name__ == "__main__":
    sys.exit(main())
