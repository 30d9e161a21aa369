"""The `drill` command. Every expected failure becomes one clear message and an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from drills import __version__
from drills.errors import DrillError, ExitCode
from drills.rundir import files

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is our exit code 64 and never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        err_console.print(f"[red]error:[/red] {message}")
        sys.exit(ExitCode.USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="drill", description="Failover drills for HA ticketing and credential stacks.")
    p.add_argument("--version", action="version", version=f"drill {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    images = sub.add_parser("images", help="build the reference stack's images")
    images_sub = images.add_subparsers(dest="images_command", metavar="ACTION", parser_class=_Parser)
    build = images_sub.add_parser("build", help="build what changed (a second run rebuilds nothing)")
    build.add_argument("--force", action="store_true", help="rebuild every image")
    build.set_defaults(func=cmd_images_build)

    stack = sub.add_parser("stack", help="run the reference stack")
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
    up.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS",
                    help="how long to wait for health (default 180)")
    up.set_defaults(func=cmd_stack_up)
    status = stack_sub.add_parser("status", help="each service with its role and health, and the endpoints")
    _name_arg(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_stack_status)
    down = stack_sub.add_parser("down", help="remove the stack (containers, network, volumes)")
    _name_arg(down)
    down.set_defaults(func=cmd_stack_down)

    clean = sub.add_parser("clean", help="heal what a crashed drill left, then remove every resource labelled "
                                         "drills.run (and nothing else)")
    clean.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    clean.add_argument("--heal-only", action="store_true",
                       help="heal leftover faults (thaw, restart, remove rules and toxics) but keep the stacks")
    clean.set_defaults(func=cmd_clean)

    run = sub.add_parser("run", help="run a drill scenario")
    run.add_argument("scenario", type=Path, metavar="SCENARIO")
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="run directory (default reports/<UTC timestamp>-<name>/)")
    run.add_argument("--seed", type=int, default=None, help="seed for random targets (default: the scenario's)")
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
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high}, got {value}")
        return value

    return parse


def _log(msg: str) -> None:
    err_console.print(msg, markup=False)


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
            print(json.dumps({"name": args.name, "exists": False, "healthy": False, "services": []}))
        else:
            _log(f"no stack named {args.name!r} (start one with `drill stack up`)")
        return ExitCode.INFRASTRUCTURE
    status = stack.status()
    if args.json:
        print(json.dumps({"exists": True, **status.to_dict()}, indent=2))
    else:
        _print_status(status)
    return ExitCode.PASS if status.healthy else ExitCode.INFRASTRUCTURE


def cmd_stack_down(args: argparse.Namespace) -> int:
    from drills.platform import engine
    from drills.platform.stack import Stack

    Stack(engine.connect(), args.name).down(log=_log)
    return ExitCode.PASS


def cmd_clean(args: argparse.Namespace) -> int:
    from drills.faults.heal import heal_leftovers
    from drills.platform import cleanup, engine

    client = engine.connect()
    heal_errors = [] if args.dry_run else heal_leftovers(client, log=_log)
    for err in heal_errors:
        _log(f"could not heal: {err}")
    if args.heal_only:
        return ExitCode.INFRASTRUCTURE if heal_errors else ExitCode.PASS
    report = cleanup.clean(client, dry_run=args.dry_run, log=_log)
    return ExitCode.INFRASTRUCTURE if report.errors or heal_errors else ExitCode.PASS


def cmd_run(args: argparse.Namespace) -> int:
    from drills.scenario import load_scenario

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
    console.print(f"[bold]{escape(scenario.name)}[/bold]: {escape(scenario.description or '')}")
    sys_ = scenario.stack
    stack = (f"attach to {sys_.api_url}" if isinstance(sys_, AttachedStack) else
             f"reference stack ({'async' if sys_.async_replication else 'sync'} replication, "
             f"{sys_.api_replicas} API replicas)")
    console.print(f"stack: {escape(stack)}")
    console.print(f"phases: warm-up {ph.warmup:g}s, steady {ph.steady:g}s, recovery {ph.recovery:g}s "
                  f"(total {ph.total:g}s); seed {args.seed if args.seed is not None else scenario.seed}")
    prof = scenario.load.profile
    console.print(f"load: {prof.type} users={prof.users} rate={prof.rate} workers={scenario.load.workers}")
    table = Table(title="fault plan (offsets from the start of load)", title_justify="left")
    for col in ("fault", "type", "where", "when", "until"):
        table.add_column(col)
    for line in plan_lines(scenario.faults, ph.warmup + ph.steady):
        table.add_row(line.fault_id, line.type, line.where, line.at, line.until)
    console.print(table)
    budgets = Table(title="budgets", title_justify="left")
    for col in ("budget", "limit"):
        budgets.add_column(col)
    for b in scenario.budgets:
        budgets.add_row(b.display, f">= {b.min:g}" if b.min is not None else f"<= {b.max:g}")
    console.print(budgets)
    console.print("dry run: nothing was started or changed")
    return ExitCode.PASS


def cmd_validate(args: argparse.Namespace) -> int:
    from drills.scenario import validate_files

    results = validate_files(args.files)
    bad = 0
    for path, issues in results.items():
        if not issues:
            console.print(f"[green]ok[/green]      {escape(str(path))}")
        for issue in issues:
            bad += 1
            err_console.print(escape(str(issue)), highlight=False)
    if bad:
        err_console.print(f"[red]{bad} problem(s)[/red] in {sum(1 for i in results.values() if i)} file(s)")
        return ExitCode.INVALID_SCENARIO
    return ExitCode.PASS


def cmd_report(args: argparse.Namespace) -> int:
    from drills.errors import InfrastructureError
    from drills.report import render_run, write_index

    run_dir = args.run_dir
    if not run_dir.is_dir():
        raise InfrastructureError(f"{run_dir} is not a run directory", hint="pass a folder under reports/")
    if not (run_dir / files.RESULT).exists():
        _judge_again(run_dir)
    for path in render_run(run_dir):
        console.print(f"wrote {escape(str(path))}")
    console.print(f"wrote {escape(str(write_index(run_dir.parent)))}")
    return ExitCode.PASS


def _judge_again(run_dir: Path) -> None:
    """A crashed run has no result.json: judge what was recorded, by the scenario copy in the run directory
    (by the default phases and budgets when that copy is unreadable; the result's notes say so)."""
    from drills.checks.result import judge_recorded, write_result

    try:
        result = judge_recorded(run_dir)
    except Exception as exc:  # noqa: BLE001 - a bug in the checks must still leave a report behind
        _log(f"could not judge the recorded files ({exc.__class__.__name__}: {exc}); the report says why")
        return
    write_result(run_dir, result)
    _log(f"judged the recorded files again (result.json was missing): {result['verdict']}")
    for note in result["notes"]:
        if note.startswith(files.SCENARIO):
            _log(note)


def cmd_compare(args: argparse.Namespace) -> int:
    from drills.report import compare_runs, print_compare

    diff = compare_runs(args.run_a, args.run_b, args.html)
    print_compare(console, diff)
    if args.html:
        console.print(f"wrote {escape(str(args.html))}")
    return ExitCode.PASS


DEMO_SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "leader-kill.yaml"


def cmd_demo(args: argparse.Namespace) -> int:
    from drills.runner.drill import DrillRun
    from drills.scenario import load_scenario

    return DrillRun(load_scenario(DEMO_SCENARIO), DEMO_SCENARIO, None, None, args.keep_stack, False, _log,
                    console=console).run()


def _print_status(status) -> None:
    table = Table(title=f"stack {status.name} ({status.run_id})", title_justify="left")
    for col in ("service", "role", "state", "health", "container", "detail"):
        table.add_column(col)
    for s in status.services:
        colour = "green" if s.health == "healthy" else "red" if s.health == "unhealthy" else "yellow"
        table.add_row(s.service, s.role, s.state, f"[{colour}]{s.health}[/{colour}]", f"{s.container} {s.id}", s.detail)
    console.print(table)
    for key, value in status.endpoints.items():
        if isinstance(value, dict):
            for sub, url in value.items():
                console.print(f"  {key}.{sub:<6} {url}")
        else:
            console.print(f"  {key:<13} {value}")
    if status.problems:
        console.print("[red]problems:[/red] " + escape("; ".join(status.problems)))


# ---- entry point ---------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
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
        return 130


def _report_error(exc: DrillError) -> None:
    err_console.print(f"[red]error:[/red] {escape(exc.message)}")
    if exc.hint:
        err_console.print(f"[cyan]hint:[/cyan] {escape(exc.hint)}")
    if exc.details:
        err_console.print(exc.details, markup=False, highlight=False)


if __name__ == "__main__":
    sys.exit(main())
