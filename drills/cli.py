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
from drills.errors import DrillError, ExitCode, UsageError
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
    up.add_argument("--zones", type=_int_range(1, 9), default=None, metavar="N",
                    help="spread the nodes over N zones; 2 or more: two load balancers share a virtual IP "
                         "(default 3, or the API replicas if fewer)")
    up.add_argument("--api-port", type=_int_range(1, 65535), default=None, metavar="PORT",
                    help="host port for the API on 127.0.0.1 (default: a free port)")
    up.add_argument("--hot-event-seats", type=_int_range(1, 10_000_000), default=20000, metavar="N")
    up.add_argument("--no-backups", action="store_true",
                    help="no WAL archiving and no backup at start (default: pgBackRest full backup when up)")
    up.add_argument("--no-monitoring", action="store_true",
                    help="no Prometheus, Alertmanager and alert receiver (default: monitoring with the alert rules)")
    up.add_argument("--backup-interval", type=_int_range(0, 86400), default=0, metavar="SECONDS",
                    help="take an incremental backup on the leader every SECONDS (default 0: only the first)")
    up.add_argument("--zero-rpo-backups", action="store_true",
                    help="stream WAL synchronously into the backup repository: no write is acknowledged before it "
                         "is there (RPO 0)")
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
    run.add_argument("scenario", type=Path, metavar="SCENARIO",
                     help="a scenario file, or the name of one in the scenario library (`drill list scenarios`)")
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="run directory, new or empty (default reports/<UTC timestamp>-<name>/)")
    run.add_argument("--seed", type=_int_range(SEED_MIN, SEED_MAX), default=None, metavar="N",
                     help=f"seed for random targets, {SEED_MIN} to {SEED_MAX} like the scenario's `seed` "
                          "(default: the scenario's)")
    run.add_argument("--keep-stack", action="store_true", help="leave the reference stack running afterwards")
    run.add_argument("--dry-run", action="store_true", help="print the resolved plan and touch nothing")
    run.add_argument("--quiet", action="store_true", help="plain line-by-line output")
    run.add_argument("--json", action="store_true",
                     help="print the result summary as JSON on stdout (the live view goes to stderr)")
    run.add_argument("--webhook", type=_webhook_arg, default=None, metavar="URL",
                     help="POST a Slack-compatible summary here when the drill ends (links the CI run in Actions)")
    _dashboard_args(run)
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check scenario files; every problem with file:line:column")
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE",
                          help="scenario files (or names of library scenarios)")
    validate.add_argument("--format", choices=("text", "github", "json"), default="text",
                          help="text (FILE:LINE:COLUMN: …), github (::error annotations) or json")
    validate.add_argument("--json", action="store_const", dest="format", const="json", help="--format json")
    validate.set_defaults(func=cmd_validate)

    lst = sub.add_parser("list", help="the fault types, budget metrics or scenarios there are")
    lst.add_argument("kind", choices=("faults", "metrics", "scenarios"), metavar="faults|metrics|scenarios")
    lst.add_argument("folder", nargs="?", type=Path, default=None, metavar="DIR",
                     help="where `list scenarios` looks (default ./scenarios/, else the library drills ships)")
    lst.set_defaults(func=cmd_list)
    explain = sub.add_parser("explain", help="what a fault type, budget metric or fault family is and takes")
    explain.add_argument("name", metavar="FAULT_OR_METRIC")
    explain.set_defaults(func=cmd_explain)
    init = sub.add_parser("init", help="write a commented scenario to start from (never overwrites)")
    init.add_argument("path", nargs="?", type=Path, default=Path("my-drill.yaml"), metavar="PATH",
                      help="the new file (default my-drill.yaml)")
    init.add_argument("--attach", action="store_true", help="against your own running containers")
    init.set_defaults(func=cmd_init)
    schema = sub.add_parser("schema", help="print the scenario JSON Schema (for an editor outside this checkout)")
    schema.set_defaults(func=cmd_schema)
    completion = sub.add_parser("completion", help="print a shell completion script: source <(drill completion "
                                                   "bash)")
    completion.add_argument("shell", choices=("bash", "zsh"), metavar="bash|zsh")
    completion.set_defaults(func=cmd_completion)

    annotate = sub.add_parser("annotate", help="send a finished run's fault marks and metrics to Grafana, a "
                                               "node_exporter textfile or a Pushgateway (docs/dashboards.md)")
    annotate.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    _dashboard_args(annotate)
    annotate.set_defaults(func=cmd_annotate)
    constraints = sub.add_parser("constraints", help="print a pip constraints file of the Python packages a run "
                                                     "(or, without RUN_DIR, this installation) used")
    constraints.add_argument("run_dir", nargs="?", type=Path, default=None, metavar="RUN_DIR")
    constraints.set_defaults(func=cmd_constraints)

    report = sub.add_parser("report", help="re-render report.html and junit.xml from a run directory")
    report.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser("compare", help="budget and availability deltas between two runs")
    compare.add_argument("run_a", type=Path, metavar="RUN_A")
    compare.add_argument("run_b", type=Path, metavar="RUN_B")
    compare.add_argument("--html", type=Path, default=None, metavar="FILE", help="also write an HTML comparison")
    compare.add_argument("--fail-on-regression", action="store_true",
                         help=f"exit {int(ExitCode.REGRESSION)} when RUN_B is worse than RUN_A (the baseline) beyond "
                              "a tolerance, a budget went from pass to fail, or the verdict stopped being good")
    compare.add_argument("--tolerance", type=_tolerance_arg, action="append", default=[], metavar="METRIC=VALUE",
                         help="how much worse a metric may get, in its unit (failover_s=3) or in %% of the "
                              "baseline (latency_p99_ms=30%%); repeatable; defaults per unit in the README")
    compare.add_argument("--json", action="store_true", help="the comparison and the gate as JSON on stdout")
    compare.set_defaults(func=cmd_compare)

    trend = sub.add_parser("trend", help="every scenario's key numbers over its runs, budget limits as lines")
    trend.add_argument("runs_dir", type=Path, nargs="?", default=Path("reports"), metavar="RUNS_DIR",
                       help="the folder of run directories (default reports/)")
    trend.add_argument("--scenario", default=None, metavar="NAME", help="only this scenario")
    trend.add_argument("--html", type=Path, default=None, metavar="FILE",
                       help=f"where to write the page (default RUNS_DIR/{files.TREND}; with --scenario "
                            f"RUNS_DIR/{files.trend_of('NAME')})")
    trend.set_defaults(func=cmd_trend)

    judge = sub.add_parser("judge", help="judge a stored run again (other budgets, newer checks); result.json "
                                         "is kept")
    judge.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    judge.add_argument("--scenario", type=Path, default=None, metavar="FILE",
                       help="judge by this scenario's budgets (default: the run's recorded scenario.yaml)")
    judge.set_defaults(func=cmd_judge)

    export = sub.add_parser("export", help="a run's history for other checkers: Jepsen operations (EDN or JSON) "
                                           "that elle-cli and Knossos read",
                            description="Each history line becomes an :invoke and its :ok / :fail / :info, with "
                                        ":process, :time (ns since the first invoke), :f (the op), :value (the "
                                        "line's `key`) and :index. Details: drills/report/jepsen_export.py.")
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    export.add_argument("--format", choices=("jepsen", "jepsen-json"), default="jepsen",
                        help="jepsen: EDN, one operation map per line (default); jepsen-json: one JSON array")
    export.add_argument("--output", "-o", type=Path, default=None, metavar="FILE", help="write here (default stdout)")
    export.add_argument("--op", action="append", default=None, metavar="OP", help="only this op (repeatable)")
    export.add_argument("--set", dest="set_op", default=None, metavar="OP",
                        help="OP alone, as :add, then the final :read of what the system held (when recorded): "
                             "the history Jepsen's set / set-full checkers take (elle-cli --model set-full)")
    export.add_argument("--value", default="key", metavar="FIELD",
                        help="the history-line field that is each operation's :value (default key)")
    export.set_defaults(func=cmd_export)

    worker = sub.add_parser("worker", help="join a running drill's load as a remote Locust worker (docs/load.md)")
    worker.add_argument("--master", required=True, metavar="HOST:PORT",
                        help="the drill's Locust master (DRILLS_LOAD_MASTER_BIND / _PORT on the harness machine)")
    worker.add_argument("--token-file", metavar="FILE",
                        help="file holding the shared worker token (default: $DRILLS_WORKER_TOKEN)")
    worker.add_argument("--target", metavar="URL",
                        help="the system under test as this worker reaches it (default: the master's URL)")
    worker.add_argument("--locustfile", metavar="FILE",
                        help="the scenario's own locustfile, when it has one (default: the built-in workload)")
    worker.add_argument("--wait", type=_seconds(0, 86400), default=300.0, metavar="SECONDS",
                        help="how long to wait for the master's port to open (default 300)")
    worker.set_defaults(func=cmd_worker)

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


def _webhook_arg(text: str) -> str:
    from drills.runner.notify import webhook_problem

    problem = webhook_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
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

    zones = args.zones or min(3, args.api_replicas)
    opts = StackOptions(name=args.name, api_replicas=args.api_replicas, zones=zones,
                        async_replication=args.async_replication,
                        api_port=args.api_port, hot_event_seats=args.hot_event_seats, backups=not args.no_backups,
                        backup_interval_s=args.backup_interval, monitoring=not args.no_monitoring,
                        zero_rpo_backups=args.zero_rpo_backups)
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
    from drills.resources import library_scenario
    from drills.runner.drill import check_out
    from drills.scenario import load_scenario

    args.scenario = library_scenario(args.scenario)   # `drill run leader-kill`: the library's, from anywhere
    if args.out is not None:
        check_out(args.out)  # a used or unusable --out is a usage error before anything starts
    dashboards = _dashboards(args)   # so is a bad --grafana-url / --pushgateway / --metrics-textfile
    scenario = load_scenario(args.scenario)
    if args.dry_run:
        if args.json:
            raise UsageError("--json prints a run's result, and a dry run has none",
                             hint="leave out --json to see the plan")
        return _print_plan(scenario, args)
    from drills.report.digest import run_digest
    from drills.runner.drill import DrillRun
    from drills.runner.notify import notify

    drill = DrillRun(scenario, args.scenario, args.out, args.seed, args.keep_stack, args.quiet, _log,
                     console=err_console if args.json else console)  # --json: stdout holds the JSON alone
    code = drill.run()
    _publish(drill.run_dir, dashboards)   # warnings only: the verdict and `code` stay as the checks said
    digest = run_digest(drill.run_dir, code)
    notify([digest], args.webhook, _log, title=f"drill run {scenario.name}")
    if args.json:
        console.out(json.dumps(digest, indent=2))
    return code


def _print_plan(scenario, args: argparse.Namespace) -> int:
    from drills.runner.scheduler import plan_lines
    from drills.scenario.model import AttachedStack

    ph = scenario.phases
    console.print(f"[bold]{safe(scenario.name, oneline=True)}[/bold]: {safe(scenario.description or '')}")
    sys_ = scenario.stack
    stack = (f"attach to {sys_.api_url}" + (f" (compose project {sys_.compose_project})" if sys_.compose_project
                                            else "") if isinstance(sys_, AttachedStack) else
             f"reference stack ({'async' if sys_.async_replication else 'sync'} replication, "
             f"{'zero-RPO backups, ' if sys_.zero_rpo_backups else ''}{sys_.api_replicas} API replicas)")
    console.print(f"stack: {safe(stack, oneline=True)}")
    console.print(plain(f"phases: warm-up {ph.warmup:g}s, steady {ph.steady:g}s, recovery {ph.recovery:g}s "
                        f"from the last heal (total {ph.total:g}s, longer by any heal still running at the end of "
                        f"steady); seed {_seed_shown(args.seed, scenario.seed)}"),
                  markup=False)
    from drills.scenario.load_plan import load_lines

    for text in load_lines(scenario.load):   # only what the profile type uses: each stage of a staged one
        console.print(plain(text, oneline=True), markup=False, highlight=False)
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
    from drills.resources import library_scenario
    from drills.scenario import validate_files

    results = validate_files([library_scenario(path) for path in args.files])
    if args.format != "text":
        return _print_validation(results, args.format)
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


def _print_validation(results: dict, fmt: str) -> int:
    """`validate --format github|json`: GitHub annotations (one per problem) or one JSON document, on stdout."""
    from dataclasses import asdict

    from drills.report.github import annotation

    if fmt == "json":
        console.out(json.dumps({"valid": not any(results.values()), "files": [
            {"file": path, "valid": not issues, "issues": [asdict(i) for i in issues]}
            for path, issues in results.items()]}, indent=2))
    else:
        for issues in results.values():
            for i in issues:
                message = f"{i.path}: {i.message}" if i.path else i.message
                if i.suggestion:
                    message += f" (did you mean '{i.suggestion}'?)"
                console.out(annotation("error", message, i.file, i.line, i.column if i.line else None,
                                       "invalid scenario"))
    return ExitCode.INVALID_SCENARIO if any(results.values()) else ExitCode.PASS


# ---- for people: catalogue, a first scenario, completion, the schema ------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    if args.kind == "scenarios":
        return _list_scenarios(args.folder)
    from drills.report.catalogue import fault_rows, metric_rows

    table = Table(show_edge=False, title_justify="left")
    columns: tuple[str, ...] = ("fault type", "family", "params", "does")
    rows: list[tuple[str, ...]] = list(fault_rows())
    if args.kind == "metrics":
        columns, rows = ("metric", "bound", "unit", "kind", "meaning"), list(metric_rows())
    for i, col in enumerate(columns):   # the name column is never folded or cut: it is what one types next
        table.add_column(col, overflow="fold", no_wrap=i == 0, min_width=max(len(r[0]) for r in rows) if i == 0
                         else None)
    for row in rows:
        table.add_row(*(safe(cell) for cell in row))
    console.print(table)
    console.print(f"[dim]`drill explain NAME` says more about one {args.kind.rstrip('s')}[/dim]")
    return ExitCode.PASS


def _list_scenarios(folder: Path | None) -> int:
    from drills.errors import UsageError
    from drills.resources import SCENARIOS, require
    from drills.scenario import check_file

    if folder is None and not Path("scenarios").is_dir():   # not in a checkout or a project of one's own
        folder = require(SCENARIOS)
        console.print(plain(f"the scenario library ({folder}); run one by name: drill run NAME", oneline=True),
                      markup=False, highlight=False)
    folder = Path("scenarios") if folder is None else folder
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a directory", hint="name the folder of your scenarios: "
                                                           "`drill list scenarios DIR`")
    paths = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    checked = [(path, *check_file(path)) for path in paths]
    widest = max((len(s.name) for _, s, _ in checked if s is not None), default=8)
    bad = 0
    for path, scenario, issues in checked:   # two lines each, readable at any terminal width
        if scenario is None:
            bad += 1
            console.print(f"[red]{safe(path.name, oneline=True)}: invalid, {len(issues)} problem(s)[/red] "
                          f"(`drill validate {safe(path)}`)")
            continue
        faults = ", ".join(dict.fromkeys(f.type for f in scenario.faults)) or "no faults"
        tags = f"  [{', '.join(scenario.tags)}]" if scenario.tags else ""
        file = f"  ({path.name})" if path.stem != scenario.name else ""   # named unlike its file
        console.print(plain(f"{scenario.name:<{widest}}  {faults}{tags}{file}", oneline=True),
                      markup=False, highlight=False)
        if scenario.description:
            console.print(plain("    " + scenario.description.strip().split(". ")[0].rstrip("."), oneline=True),
                          markup=False, highlight=False, style="dim")
    if not paths:
        console.print(f"no scenario files (*.yaml, *.yml) in {safe(folder)}")
    return ExitCode.INVALID_SCENARIO if bad else ExitCode.PASS


def cmd_explain(args: argparse.Namespace) -> int:
    from drills.errors import UsageError
    from drills.report.catalogue import explain, suggestion

    lines = explain(args.name)
    if lines is None:
        guess = suggestion(args.name)
        raise UsageError(f"no fault type, budget metric or fault family named {args.name!r}"
                         + (f" (did you mean '{guess}'?)" if guess else ""),
                         hint="`drill list faults` and `drill list metrics` list them")
    for line in lines:
        console.print(plain(line), markup=False, highlight=False)
    return ExitCode.PASS


def cmd_init(args: argparse.Namespace) -> int:
    from drills.errors import UsageError
    from drills.scenario import check_file
    from drills.scenario.skeleton import ATTACH_LOCUSTFILE, LOCUSTFILE_TEXT, skeleton

    path: Path = args.path
    if path.suffix not in (".yaml", ".yml"):
        raise UsageError(f"{path}: expected a file name ending in .yaml or .yml",
                         hint="`drill validate` and the pytest plugin look for those")
    try:
        with path.open("x", encoding="utf-8") as out:   # "x": an existing file is never overwritten
            out.write(skeleton(path, attach=args.attach))
    except FileExistsError:
        raise UsageError(f"{path} exists: not overwritten", hint="name a new file: `drill init PATH`") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot be written ({exc.strerror or exc})",
                         hint="name a file in an existing, writable folder") from None
    if args.attach:   # its load: a starter locustfile beside it, unless one is there already (then that one)
        locustfile = path.parent / ATTACH_LOCUSTFILE
        try:
            with locustfile.open("x", encoding="utf-8") as out:
                out.write(LOCUSTFILE_TEXT)
            console.print(f"wrote {safe(locustfile)} (a starter: its operations are the ones the scenario names)")
        except FileExistsError:
            console.print(f"kept {safe(locustfile)}: the scenario runs it (check the operations it names)")
        except OSError as exc:
            err_console.print(f"[red]error:[/red] {safe(locustfile)}: cannot be written "
                              f"({safe(exc.strerror or exc)})")
    _, issues = check_file(path)
    for issue in issues:  # a bug of drills, not the user's: said as `validate` says it
        err_console.print(plain(issue, oneline=True), markup=False, highlight=False)
    console.print(f"wrote {safe(path)}" + ("" if issues else f" (valid; next: drill run --dry-run {safe(path)})"))
    return ExitCode.INVALID_SCENARIO if issues else ExitCode.PASS


def cmd_schema(_args: argparse.Namespace) -> int:
    from drills.scenario import SCHEMA_PATH

    console.out(SCHEMA_PATH.read_text(encoding="utf-8"), end="")
    return ExitCode.PASS


def cmd_completion(args: argparse.Namespace) -> int:
    from drills.completion import script
    from drills.report.catalogue import names

    console.out(script(build_parser(), args.shell, extra={"drill_explain": names()}), end="")
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


def _tolerance_arg(text: str):   # -> (metric, drills.report.keynumbers.Tolerance)
    from drills.report.regression import tolerance_arg

    return tolerance_arg(text)


def cmd_compare(args: argparse.Namespace) -> int:
    from drills.report import compare_runs, print_compare
    from drills.report.regression import gate_lines

    diff = compare_runs(args.run_a, args.run_b, args.html,  # not run directories: a usage error
                        tolerances=dict(args.tolerance))
    for warning in diff["warnings"]:
        _warn(warning)
    if args.json:
        console.out(json.dumps(diff, indent=2, allow_nan=False))
    else:
        print_compare(console, diff)
        for line in gate_lines(diff["gate"]):
            console.print(plain(line), markup=False, highlight=False)
    if args.fail_on_regression and diff["gate"]["regressed"]:
        return ExitCode.REGRESSION
    return ExitCode.PASS


def cmd_trend(args: argparse.Namespace) -> int:
    from drills.report.runlist import list_runs
    from drills.report.trend import write_trend

    if not args.runs_dir.is_dir():
        raise UsageError(f"{args.runs_dir} is not a directory", hint="pass the folder of run directories, "
                                                                     "e.g. reports/")
    if args.html is not None and not args.html.parent.is_dir():
        raise UsageError(f"--html {args.html}: {args.html.parent} is not a directory")
    runs = list_runs(args.runs_dir)
    names = sorted({r.scenario for r in runs})
    if args.scenario is not None and args.scenario not in names:
        raise UsageError(f"no run of scenario {args.scenario!r} in {args.runs_dir}",
                         hint=f"scenarios there: {', '.join(names) or 'none'}")
    path = write_trend(args.runs_dir, args.scenario, args.html, log=_warn, runs=runs)
    if path is None:
        raise UsageError("the trend page was not written: a file drills did not write is in the way",
                         hint="name another file with --html")
    console.print(f"wrote {safe(path)}")
    return ExitCode.PASS


def cmd_judge(args: argparse.Namespace) -> int:
    from drills.checks import exit_code
    from drills.checks.rejudge import changes, rejudge
    from drills.report import print_summary, require_run_dir

    run_dir = require_run_dir(args.run_dir)  # anything else is a usage error, and nothing is written
    try:
        done = rejudge(run_dir, args.scenario)   # an invalid --scenario: exit 4, every problem as FILE:LINE:COL
    except OSError as exc:
        raise UsageError(f"cannot write into {run_dir}: {exc.strerror or exc}",
                         hint="judge a copy of the run directory in a writable place") from None
    if done.recorded.problem:
        _warn(f"{done.recorded.problem}; it is left as it is")
    print_summary(console, done.result)
    for line in changes(done.recorded, done.result) or [f"same verdict and budget outcomes as {files.RESULT}"]:
        console.print(plain(line), markup=False, highlight=False)
    console.print(f"wrote {safe(done.path)} (judged by {safe(done.by)}; {files.RESULT} is kept as it was)")
    return int(exit_code(done.result))


def cmd_export(args: argparse.Namespace) -> int:
    from drills.checks.writing import replace_file
    from drills.report import require_run_dir
    from drills.report.jepsen_export import ExportError, build, write

    run_dir = require_run_dir(args.run_dir)  # anything else is a usage error, and nothing is written
    if args.set_op is not None and args.op:
        raise UsageError("--set OP exports that op alone: leave out --op")
    try:
        export = build(run_dir, args.op, args.set_op, args.value)
    except ExportError as exc:
        raise UsageError(str(exc), hint="the ops of a run are in its report (\"By operation\")") from None
    for note in export.notes:
        _warn(note)
    if args.output is None:
        try:
            write(export, args.format, sys.stdout)
        except BrokenPipeError:   # `drill export RUN | head`: the reader left
            raise OutputClosed() from None
    else:
        try:
            replace_file(args.output, lambda f: write(export, args.format, f))
        except OSError as exc:
            raise UsageError(f"--output {args.output}: cannot be written ({exc.strerror or exc})") from None
        _log(f"wrote {args.output}: {export.operations} operations as {len(export.ops)} Jepsen operations on "
             f"{export.processes} processes")
    return ExitCode.PASS


def _dashboard_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grafana-url", default=None, metavar="URL",
                   help="loopback Grafana: a region per fault and a verdict point (token: $DRILLS_GRAFANA_TOKEN)")
    p.add_argument("--metrics-textfile", type=Path, default=None, metavar="PATH",
                   help="write the result as metrics for node_exporter's textfile collector (a .prom file)")
    p.add_argument("--pushgateway", default=None, metavar="URL", help="push the result's metrics to this loopback "
                                                                      "Prometheus Pushgateway")


def _dashboards(args: argparse.Namespace):   # -> drills.runner.publish.Targets (imported on use)
    from drills.runner.publish import targets

    return targets(args.grafana_url, args.metrics_textfile, args.pushgateway)


def _publish(run_dir: Path, where) -> None:
    if where:
        from drills.runner.publish import publish

        publish(run_dir, where, log=_log, warn=_warn)


def cmd_annotate(args: argparse.Namespace) -> int:
    from drills.report import require_run_dir

    where = _dashboards(args)
    if not where:
        raise UsageError("nothing to send: give --grafana-url, --metrics-textfile and/or --pushgateway")
    _publish(require_run_dir(args.run_dir), where)   # a target that fails is a warning, as after `drill run`
    return ExitCode.PASS


def cmd_constraints(args: argparse.Namespace) -> int:
    from drills.report import require_run_dir
    from drills.rundir.meta import NoRecordedVersions, recorded_constraints

    try:
        text = recorded_constraints(None if args.run_dir is None else require_run_dir(args.run_dir))
    except NoRecordedVersions as exc:
        raise UsageError(str(exc), hint="`drill constraints` without RUN_DIR prints this installation's") from None
    sys.stdout.write(text)
    return ExitCode.PASS


def cmd_worker(args: argparse.Namespace) -> int:
    from drills.load.remote_worker import run_worker

    return run_worker(args.master, token_file=args.token_file, target=args.target, locustfile=args.locustfile,
                      wait_s=args.wait, log=_log)


def cmd_demo(args: argparse.Namespace) -> int:
    from drills.resources import SCENARIOS, require
    from drills.runner.drill import DrillRun
    from drills.scenario import load_scenario

    path = require(SCENARIOS) / "leader-kill.yaml"
    return DrillRun(load_scenario(path), path, None, None, args.keep_stack, False, _log,
                    console=console).run()


def _print_status(status) -> None:
    table = Table(title=safe(f"stack {status.name} ({status.run_id})", oneline=True), title_justify="left")
    for col in ("service", "zone", "role", "state", "health", "container", "detail"):
        table.add_column(col)
    for s in status.services:
        colour = "green" if s.health == "healthy" else "red" if s.health == "unhealthy" else "yellow"
        table.add_row(safe(s.service, oneline=True), safe(s.zone or "-", oneline=True), safe(s.role, oneline=True),
                      safe(s.state, oneline=True),
                      f"[{colour}]{safe(s.health, oneline=True)}[/{colour}]",
                      safe(f"{s.container} {s.id}", oneline=True), safe(s.detail, oneline=True))
    console.print(table)
    if status.vip:
        held = ", ".join(status.vip_holders) or "no load balancer"
        console.print(plain(f"  VIP {status.vip} held by {held}", oneline=True), markup=False)
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
