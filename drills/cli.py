"""The `drill` command. Every expected failure becomes one clear message and an exit code.

What it prints of scenarios, run directories and the system is text, never markup or control sequences
(drills.report.terminal: `safe` inside markup, `plain` without); every line to stderr is one line (no soft
wrapping when stderr is not a terminal: editors and CI parse `FILE:LINE:COLUMN: …`)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.table import Table

from drills import __version__
from drills.errors import DrillError, ExitCode
from drills.report.quote import SECTION_MAX
from drills.report.terminal import OutputClosed, TerminalConsole, plain, safe
from drills.rundir import files
from drills.scenario.limits import SEED_MAX, SEED_MIN

console = TerminalConsole(highlight=False)
err_console = TerminalConsole(stderr=True, highlight=False, soft_wrap=True)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is our exit code 64 and never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        err_console.print(f"[red]error:[/red] {safe(message)}")
        sys.exit(ExitCode.USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="drill", description="Failover drills for HA ticketing and credential stacks.")
    p.add_argument("--version", action="version", version=f"drill {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    images = sub.add_parser("images", help="build the reference stack's images")
    images.set_defaults(func=_help_of(images))   # no ACTION: its own help (an ACTION's defaults replace it)
    images_sub = images.add_subparsers(dest="images_command", metavar="ACTION", parser_class=_Parser)
    build = images_sub.add_parser("build", help="build what changed (a second run rebuilds nothing)")
    build.add_argument("--force", action="store_true", help="rebuild every image")
    build.set_defaults(func=cmd_images_build)

    stack = sub.add_parser("stack", help="run the reference stack")
    stack.set_defaults(func=_help_of(stack))
    stack_sub = stack.add_subparsers(dest="stack_command", metavar="ACTION", parser_class=_Parser)
    up = stack_sub.add_parser("up", help="start the stack and wait until it is healthy")
    _name_arg(up)
    up.add_argument("--async-replication", action="store_true",
                    help="asynchronous streaming replication (default: Patroni synchronous_mode_strict)")
    up.add_argument("--api-replicas", type=_int_range(1, 9), default=3, metavar="N", help="API replicas (default 3)")
    up.add_argument("--api-port", type=_int_range(1, 65535), default=None, metavar="PORT",
                    help="host port for the API on 127.0.0.1 (default: a free port)")
    up.add_argument("--hot-event-seats", type=_int_range(1, 10_000_000), default=20000, metavar="N")
    up.add_argument("--no-backups", action="store_true",
                    help="no WAL archiving and no backup at start (default: pgBackRest full backup when up)")
    up.add_argument("--backup-interval", type=_int_range(0, 86400), default=0, metavar="SECONDS",
                    help="take an incremental backup on the leader every SECONDS (default 0: only the first)")
    up.add_argument("--timeout", type=_seconds(1, 3600), default=180.0, metavar="SECONDS",
                    help="how long to wait for health (default 180)")
    up.set_defaults(func=cmd_stack_up)
    status = stack_sub.add_parser("status", help="each service with its role and health, and the endpoints")
    _name_arg(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_stack_status)
    down = stack_sub.add_parser("down", help="remove the stack (containers, network, volumes)")
    _name_arg(down)
    down.set_defaults(func=cmd_stack_down)

    clean = sub.add_parser(
        "clean", help="heal what a dead drill left, then remove its labelled resources (never a live drill's)",
        description="Heal the faults a drill left pending and remove its resources labelled drills.run — only "
                    "for runs whose harness process is gone (pid and process start time, recorded in the state "
                    "directory). A live drill is never touched. Default: every run the state directory knows "
                    "whose owner is gone (a SIGKILLed drill, a --keep-stack stack once its drill ended); "
                    "resources nobody recorded an owner for (`drill stack up` stacks, an older version's, runs "
                    "of another DRILLS_STATE_DIR) are listed and left alone: --all takes them too.")
    which = clean.add_mutually_exclusive_group()
    which.add_argument("--run", metavar="ID", default=None, type=_run_id_arg,
                       help="that run only (its run id or stack name); refused while its harness still runs")
    which.add_argument("--all", action="store_true",
                       help="also resources nobody recorded an owner for (still never a live drill's)")
    clean.add_argument("--dry-run", action="store_true", help="only list the heals and removals it would do")
    clean.add_argument("--heal-only", action="store_true",
                       help="heal leftover faults (thaw, restart, remove rules and toxics) but keep the stacks")
    clean.set_defaults(func=cmd_clean)

    run = sub.add_parser("run", help="run a drill scenario")
    run.add_argument("scenario", type=Path, metavar="SCENARIO")
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="run directory, new or empty (default reports/<UTC timestamp>-<name>/)")
    run.add_argument("--seed", type=_int_range(SEED_MIN, SEED_MAX), default=None, metavar="N",
                     help=f"seed for random targets, {SEED_MIN} to {SEED_MAX} like the scenario's `seed` "
                          "(default: the scenario's)")
    run.add_argument("--keep-stack", action="store_true", help="leave the reference stack running afterwards")
    run.add_argument("--dry-run", action="store_true", help="print the resolved plan and touch nothing")
    run.add_argument("--quiet", action="store_true", help="plain line-by-line output")
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check scenario files; every problem with file:line:column")
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    validate.set_defaults(func=cmd_validate)

    report = sub.add_parser("report", help="re-render report.html and junit.xml from a run directory")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser("compare", help="budget and availability deltas between two runs")
    compare.add_argument("run_a", type=Path, metavar="RUN_A")
    compare.add_argument("run_b", type=Path, metavar="RUN_B")
    compare.add_argument("--html", type=Path, default=None, metavar="FILE", help="also write an HTML comparison")
    compare.set_defaults(func=cmd_compare)

    demo = sub.add_parser("demo", help="the headline drill: the Patroni leader SIGKILLed under purchase load")
    demo.add_argument("--keep-stack", action="store_true", help="leave the stack running afterwards")
    demo.set_defaults(func=cmd_demo)
    return p


def _name_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default="default", help="stack name (default: default)")


def _int_range(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"-?[0-9]+", text):  # int() would take '٣', '1_000' and ' 7 '
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high}, got {value}")
        return value

    return parse


def _run_id_arg(text: str) -> str:
    """A run id or stack name as drills makes them: an empty or odd one names no run."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", text):
        raise argparse.ArgumentTypeError(f"expected a run id or stack name (letters, digits, '-', '_', '.'), "
                                         f"got {text!r}")
    return text


def _seconds(low: float, high: float) -> Callable[[str], float]:
    """A number of seconds in [low, high]: nan, inf and negatives are refused like any other slip."""
    def parse(text: str) -> float:
        if not re.fullmatch(r"[0-9]+(\.[0-9]*)?|\.[0-9]+", text):  # ASCII digits only: no nan, inf, '٣'
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}")
        value = float(text)
        if not low <= value <= high:  # also false for nan
            raise argparse.ArgumentTypeError(f"expected {low:g} to {high:g} seconds, got {text}")
        return value

    return parse


def _help_of(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """A command group without its ACTION (`drill stack`): that group's help, and a usage error."""
    def show(_args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE

    return show


def _log(msg: str) -> None:
    err_console.print(plain(msg), markup=False, highlight=False)


# ---- commands ------------------------------------------------------------------------------------
def cmd_images_build(args: argparse.Namespace) -> int:
    from drills.platform import engine, images

    results = images.build_all(engine.connect(timeout=600), log=_log, force=args.force)
    for r in results:
        _log(f"{r.tag:32} {r.action:7} {r.seconds:6.1f}s")
    return ExitCode.PASS


def cmd_stack_up(args: argparse.Namespace) -> int:
    from drills.platform import engine
    from drills.platform.stack import Stack, StackOptions

    opts = StackOptions(name=args.name, api_replicas=args.api_replicas, async_replication=args.async_replication,
                        api_port=args.api_port, hot_event_seats=args.hot_event_seats, backups=not args.no_backups,
                        backup_interval_s=args.backup_interval)
    status = Stack(engine.connect(), args.name).up(opts, log=_log, timeout=args.timeout)
    _print_status(status)
    return ExitCode.PASS


def cmd_stack_status(args: argparse.Namespace) -> int:
    from drills.platform import engine
    from drills.platform.stack import Stack

    stack = Stack(engine.connect(), args.name)
    if not stack.exists():
        if args.json:
            console.out(json.dumps({"name": args.name, "exists": False, "healthy": False, "services": []}))
        else:
            _log(f"no stack named {args.name!r} (start one with `drill stack up`)")
        return ExitCode.INFRASTRUCTURE
    status = stack.status()
    if args.json:
        console.out(json.dumps({"exists": True, **status.to_dict()}, indent=2))
    else:
        _print_status(status)
    return ExitCode.PASS if status.healthy else ExitCode.INFRASTRUCTURE


def cmd_stack_down(args: argparse.Namespace) -> int:
    from drills.platform import engine
    from drills.platform.stack import Stack

    Stack(engine.connect(), args.name).down(log=_log)
    return ExitCode.PASS


def cmd_clean(args: argparse.Namespace) -> int:
    from drills.errors import UsageError
    from drills.faults.heal import heal_entry, heal_env
    from drills.faults.ledger import forget_run, heal_left, known_runs
    from drills.platform import cleanup, engine

    runs = known_runs()
    scope = cleanup.Scope({r.run_id: r.owner for r in runs.values()}, only=args.run, orphans=args.all)
    spared = {r.run_id: why for r in runs.values() if (why := scope.spare((r.run_id,))[1]) is not None}
    if args.run in spared:
        raise UsageError(f"run {args.run} is left alone: {spared[args.run]}", hint="stop it (Ctrl-C heals it)")
    client = engine.connect()
    env = heal_env(client)
    dead = [r for r in runs.values() if r.run_id not in spared]
    errors = [e for r in dead for e in heal_left(r, lambda entry: heal_entry(entry, env), _log, args.dry_run)]
    for run_id, why in spared.items():
        if why and runs[run_id].pending:
            _log(f"not healed: {run_id}: {why}")
    report = None if args.heal_only else cleanup.clean(client, scope, dry_run=args.dry_run, log=_log)
    if args.run and report and args.run in report.spared:  # live by its resources' owner label
        raise UsageError(f"run {args.run} is left alone: {report.spared[args.run]}")
    if args.run and args.run not in runs and not (report and report.cleaned):
        raise UsageError(f"no run {args.run}: the state directory does not know it and no labelled resource "
                         "carries it", hint="`drill clean --all --dry-run` lists every run it could clean")
    for err in errors:
        _log(f"could not heal: {err}")
    failed = bool(errors or (report and report.errors))
    if not args.dry_run and not failed:
        for run in dead:  # nothing of them is left to heal or remove: records and secrets go too
            forget_run(run.run_id, keep_record=args.heal_only)
    return ExitCode.INFRASTRUCTURE if failed else ExitCode.PASS


def cmd_run(args: argparse.Namespace) -> int:
    from drills.runner.drill import check_out
    from drills.scenario import load_scenario

    if args.out is not None:
        check_out(args.out)  # a used or unusable --out is a usage error before anything starts
    scenario = load_scenario(args.scenario)
    if args.dry_run:
        return _print_plan(scenario, args)
    from drills.runner.drill import DrillRun

    return DrillRun(scenario, args.scenario, args.out, args.seed, args.keep_stack, args.quiet, _log,
                    console=console).run()


def _print_plan(scenario, args: argparse.Namespace) -> int:
    from drills.runner.scheduler import plan_lines
    from drills.scenario.model import AttachedStack

    ph = scenario.phases
    console.print(f"[bold]{safe(scenario.name, oneline=True)}[/bold]: {safe(scenario.description or '')}")
    sys_ = scenario.stack
    stack = (f"attach to {sys_.api_url}" if isinstance(sys_, AttachedStack) else
             f"reference stack ({'async' if sys_.async_replication else 'sync'} replication, "
             f"{sys_.api_replicas} API replicas)")
    console.print(f"stack: {safe(stack, oneline=True)}")
    console.print(plain(f"phases: warm-up {ph.warmup:g}s, steady {ph.steady:g}s, recovery {ph.recovery:g}s "
                        f"(total {ph.total:g}s); seed {_seed_shown(args.seed, scenario.seed)}"),
                  markup=False)
    prof = scenario.load.profile
    console.print(plain(f"load: {prof.type} users={prof.users} rate={prof.rate} workers={scenario.load.workers}",
                        oneline=True), markup=False)
    table = Table(title="fault plan (offsets from the start of load)", title_justify="left")
    for col in ("fault", "type", "where", "when", "until"):
        table.add_column(col)
    for line in plan_lines(scenario.faults, ph.warmup + ph.steady):
        table.add_row(*(safe(cell, oneline=True) for cell in (line.fault_id, line.type, line.where, line.at,
                                                              line.until)))
    console.print(table)
    budgets = Table(title="budgets", title_justify="left")
    for col in ("budget", "limit"):
        budgets.add_column(col)
    for b in scenario.budgets:
        budgets.add_row(safe(b.display, oneline=True), f">= {b.min:g}" if b.min is not None else f"<= {b.max:g}")
    console.print(budgets)
    console.print("dry run: nothing was started or changed")
    return ExitCode.PASS


def cmd_validate(args: argparse.Namespace) -> int:
    from drills.scenario import validate_files

    results = validate_files(args.files)
    bad = 0
    for path, issues in results.items():
        if not issues:
            console.print(f"[green]ok[/green]      {safe(path, oneline=True)}")
        for issue in issues:   # one line per problem, always: FILE:LINE:COLUMN: message
            bad += 1
            err_console.print(plain(issue, oneline=True), markup=False, highlight=False)
    if bad:
        err_console.print(f"[red]{bad} problem(s)[/red] in {sum(1 for i in results.values() if i)} file(s)")
        return ExitCode.INVALID_SCENARIO
    return ExitCode.PASS


def cmd_report(args: argparse.Namespace) -> int:
    from drills.report import render_run, require_run_dir, write_index
    from drills.report.resultfile import read_result_file

    run_dir = require_run_dir(args.run_dir)  # anything else is a usage error, and nothing is written
    if read_result_file(run_dir).missing:
        _judge_again(run_dir)
    for path in render_run(run_dir, log=_log):  # a corrupt result.json is said so, and left as it is
        console.print(f"wrote {safe(path)}")
    index = write_index(run_dir.parent, log=_warn)
    if index is not None:
        console.print(f"wrote {safe(index)}")
    return ExitCode.PASS


def _warn(message: str) -> None:
    _log(f"warning: {message}")


def _judge_again(run_dir: Path) -> None:
    """A crashed run has no result.json: judge what was recorded, by the scenario copy in the run directory
    (by the default phases and budgets when that copy is unreadable; the result's notes say so)."""
    from drills.checks.result import judge_recorded, write_result

    try:
        result = judge_recorded(run_dir)
    except Exception as exc:  # noqa: BLE001 - a bug in the checks must still leave a report behind
        _log(f"could not judge the recorded files ({exc.__class__.__name__}: {exc}); the report says why")
        return
    try:
        write_result(run_dir, result)
    except OSError as exc:
        _log(f"could not write {files.RESULT} ({exc.strerror or exc}); the report shows the judgement all the same")
        return
    _log(f"judged the recorded files again (result.json was missing): {result['verdict']}")
    for note in result["notes"]:
        if note.startswith(files.SCENARIO):
            _log(note)


def cmd_compare(args: argparse.Namespace) -> int:
    from drills.report import compare_runs, print_compare

    diff = compare_runs(args.run_a, args.run_b, args.html)  # not run directories: a usage error
    for warning in diff["warnings"]:
        _warn(warning)
    print_compare(console, diff)
    return ExitCode.PASS


DEMO_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "leader-kill.yaml"


def cmd_demo(args: argparse.Namespace) -> int:
    from drills.runner.drill import DrillRun
    from drills.scenario import load_scenario

    return DrillRun(load_scenario(DEMO_SCENARIO), DEMO_SCENARIO, None, None, args.keep_stack, False, _log,
                    console=console).run()


def _print_status(status) -> None:
    table = Table(title=safe(f"stack {status.name} ({status.run_id})", oneline=True), title_justify="left")
    for col in ("service", "role", "state", "health", "container", "detail"):
        table.add_column(col)
    for s in status.services:
        colour = "green" if s.health == "healthy" else "red" if s.health == "unhealthy" else "yellow"
        table.add_row(safe(s.service, oneline=True), safe(s.role, oneline=True), safe(s.state, oneline=True),
                      f"[{colour}]{safe(s.health, oneline=True)}[/{colour}]",
                      safe(f"{s.container} {s.id}", oneline=True), safe(s.detail, oneline=True))
    console.print(table)
    for key, value in status.endpoints.items():
        if isinstance(value, dict):
            for sub, url in value.items():
                console.print(plain(f"  {key}.{sub:<6} {url}", oneline=True), markup=False)
        else:
            console.print(plain(f"  {key:<13} {value}", oneline=True), markup=False)
    if status.problems:
        console.print("[red]problems:[/red] " + safe("; ".join(status.problems)))


# ---- entry point ---------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            _flush()   # also after argparse's SystemExit (`drill --help | head -1`)
    except OutputClosed:
        _drop_output()
        return ExitCode.OUTPUT_CLOSED


def _flush() -> None:
    """What is still buffered, now: a closed pipe shows here, not as a warning at interpreter exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise OutputClosed() from None


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        return int(args.func(args))
    except DrillError as exc:
        _report_error(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/yellow]")
        return ExitCode.INTERRUPTED


def _drop_output() -> None:
    """The reader went away (`drill … | head -1`): whatever is still buffered goes nowhere, quietly (Python
    would otherwise print a BrokenPipeError at exit)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass   # not a real file (tests capture output): nothing buffered to lose


def _seed_shown(cli_seed: int | None, scenario_seed: int | None) -> str:
    seed = cli_seed if cli_seed is not None else scenario_seed
    return str(seed) if seed is not None else "drawn at start (recorded in meta.json)"


def _report_error(exc: DrillError) -> None:
    issues = getattr(exc, "issues", None)  # an invalid scenario: one line per problem, as `drill validate` prints
    if issues:
        for issue in issues:
            err_console.print("error: " + plain(issue, oneline=True), markup=False, highlight=False)
    else:
        err_console.print(f"[red]error:[/red] {safe(exc.message)}")
    if exc.hint:
        err_console.print(f"[cyan]hint:[/cyan] {safe(exc.hint)}")
    if exc.details:
        err_console.print(plain(exc.details, limit=SECTION_MAX), markup=False, highlight=False)


if __name__ == "__main__":
    sys.exit(main())
