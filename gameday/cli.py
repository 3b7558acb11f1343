"""``gameday``: run, validate and re-grade game days; serve the fault proxy and the venue.

Exit codes: 0 every expectation passed; 1 one failed; 3 none failed but one could not be
graded (unknown); 4 the run aborted (the reason is in results.json and junit.xml; re-grading an
interrupted run also reads 4); 2 bad input (an invalid scenario, a bad flag); 130 interrupted (the
run's results.json and junit.xml say so). Of several runs, a failure outranks an aborted run,
which outranks an unknown one.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gameday.errors import GamedayError, Terminated
from gameday.plain_lines import PlainLines
from gameday.scenario import Scenario, load_scenario
from gameday.target import load_target

if TYPE_CHECKING:
    from rich.console import Console

    from gameday.target_file import TargetFile

EXIT_INVALID = 2
EXIT_INTERRUPTED = 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gameday", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run game days on the embedded local stack")
    run.add_argument("scenarios", nargs="+", type=Path)
    run.add_argument("--defect", action="append", default=[], metavar="NAME",
                     help="switch on a known defect of the target (repeatable; an unknown name lists them)")
    _add_stack_flags(run, matrix=False)
    run.add_argument("--load-ui", action="store_true",
                     help="serve locust's web UI on 127.0.0.1 (its URL is printed) while the scenario's "
                          "load: runs, to watch and steer it; the run still records and grades it")

    matrix = commands.add_parser(
        "matrix", help="run each scenario against the correct stack and against its known defect")
    matrix.add_argument("scenarios", nargs="*", type=Path,
                        help="scenario files (default: every scenarios/*.yaml)")
    matrix.add_argument("--repeat", type=int, default=1, help="runs of each variant (default 1)")
    matrix.add_argument("--out", type=Path, metavar="DIR",
                        help="where matrix.json, .md, .xml and .html go (default: --reports), so a partial "
                             "matrix does not overwrite the full one")
    _add_stack_flags(matrix, matrix=True)

    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("scenarios", nargs="+", type=Path)

    analyze = commands.add_parser("analyze", help="re-grade a stored run from its history")
    analyze.add_argument("run_dirs", nargs="+", type=Path)
    analyze.add_argument("--scenario", type=Path, metavar="FILE",
                         help="grade against FILE's expectations into <run_dir>/regraded/<FILE>-<time>/, "
                              "leaving the run's own results as they are")

    proxy = commands.add_parser("toxiproxy-server", help="serve the Toxiproxy API (like toxiproxy-server)")
    proxy.add_argument("--host", default="localhost")
    proxy.add_argument("--allow-remote", action="store_true",
                       help="proxies may listen on and dial other hosts; needed for a non-loopback --host")
    proxy.add_argument("--port", type=int, default=8474)
    proxy.add_argument("--seed", type=int, default=0)

    exchange = commands.add_parser("exchange", add_help=False,
                                   help="serve a mock FIX 4.4 / WebSocket venue until SIGINT "
                                        "(the flags of python -m mock_exchange; --help lists them)")
    exchange.add_argument("exchange_args", nargs=argparse.REMAINDER)
    from gameday.contract.cli import add_contract_parser

    add_contract_parser(commands)
    return parser


def _stress_level(text: str) -> int:
    from gameday.stress import stress_level  # the burners' process machinery, for run and matrix only

    return stress_level(text)


def _add_stack_flags(command: argparse.ArgumentParser, *, matrix: bool) -> None:
    """The flags `run` and `matrix` share: where the stack comes from and where runs go."""
    each = "each stack" if matrix else "its stack"
    command.add_argument("--reports", type=Path, default=Path("reports"), help="where runs are written")
    command.add_argument("--backend", choices=["embedded", "compose"],
                         help=f"how the target starts {each} (default: the scenario's stack.backend, "
                              "else embedded child processes; compose needs a Docker engine: "
                              "compose/engine.sh up)")
    command.add_argument("--target", type=Path, metavar="FILE",
                         help="grade a stack that is already running, described by a target file "
                              "(docs/targets.md); nothing is started" + (
                                  "; the correct variant only, since nothing can switch its defects on"
                                  if matrix else ""))
    command.add_argument("--allow-remote", action="store_true",
                         help="let the target file name endpoints off loopback (recorded in the run)")
    command.add_argument("--stress", type=_stress_level, default=0, metavar="N|cores",
                         help="run beside N CPU-burning processes ('cores': one per core; default 0)" + (
                             "; the level and the load average go into the matrix report" if matrix else ""))


def _toxiproxy_url(args: argparse.Namespace, console: Console) -> tuple[bool, str | None]:
    """``TOXIPROXY_URL`` if set (a user's Toxiproxy, used instead of our own), and whether it may be used:
    off loopback only with ``--allow-remote``."""
    from gameday.loopback import is_loopback_address

    url = os.environ.get("TOXIPROXY_URL") or None
    if url is not None and not args.allow_remote and not is_loopback_address(url):
        console.print(f"[bold red]TOXIPROXY_URL[/] {escape(url)} is not on loopback: pass --allow-remote to "
                      "send faults to a Toxiproxy on another host", highlight=False)
        return False, url
    return True, url


def escape(text: str) -> str:
    """``text`` as literal rich markup (rich is imported by the commands that print through it)."""
    from rich.markup import escape as escape_markup

    return escape_markup(text)


def _load_all(paths: Sequence[Path], restartable: Sequence[str] | None = None) -> list[Scenario] | None:
    """The scenarios, or ``None`` after naming every problem of each bad file: as plain lines, the
    same for every command (unwrapped, so an editor or a CI log reads one problem a line)."""
    scenarios: list[Scenario] = []
    lines = PlainLines()
    for path in paths:
        try:
            scenarios.append(load_scenario(path, restartable=restartable))
        except GamedayError as error:
            lines.error(str(error))
    return scenarios if len(scenarios) == len(paths) else None


def _cmd_validate(args: argparse.Namespace, console: Console | PlainLines) -> int:
    """Plain lines: ``validate`` is run on every save and in pre-commit hooks, so it pays for no
    terminal library."""
    lines = console if isinstance(console, PlainLines) else PlainLines()
    scenarios = _load_all(args.scenarios)
    if scenarios is None:
        return EXIT_INVALID
    for path, scenario in zip(args.scenarios, scenarios, strict=True):
        lines.ok("valid", f"{path}: {scenario.name} ({len(scenario.timeline)} faults, "
                          f"{len(scenario.expectations)} expectations)")
    return 0


def _known_defects(names: Sequence[str], console: Console) -> bool:
    target = load_target()
    unknown = [name for name in names if name not in target.defects]
    if unknown:
        console.print(f"[bold red]unknown defect[/] {', '.join(unknown)}: target {target.name!r} knows "
                      f"{', '.join(sorted(target.defects)) or 'none'}", highlight=False)
    return not unknown


def _target_file(args: argparse.Namespace, console: Console) -> TargetFile | None:
    from gameday.target_file import load_target_file

    try:
        return load_target_file(args.target, allow_remote=args.allow_remote)
    except GamedayError as error:
        console.print(escape(str(error)), style="bold red", highlight=False)
        return None


def _attached(args: argparse.Namespace, target: TargetFile, paths: Sequence[Path],
              scenarios: Sequence[Scenario], console: Console, defects: Sequence[str] = ()
              ) -> dict[str, Any] | None:
    """The run settings of a target file, or ``None`` (after naming each gap) when it cannot carry
    out every scenario."""
    from gameday.stack.external import admin_token_of, venue_admin_token_of
    from gameday.target_file import scenario_gaps

    gaps = [(str(path), gap) for path, scenario in zip(paths, scenarios, strict=True)
            for gap in scenario_gaps(target, scenario)]
    if defects:
        gaps.append((str(args.target), "--defect: a stack reached through a target file runs as it is"))
    token = None
    try:
        token = admin_token_of(target, dict(os.environ))
    except GamedayError as error:
        gaps.append((str(args.target), str(error)))
    try:  # the stack reads it again when it attaches; an unset variable is named before anything runs
        venue_admin_token_of(target, dict(os.environ))
    except GamedayError as error:
        gaps.append((str(args.target), str(error)))
    for path, gap in gaps:
        console.print(f"[bold red]cannot run[/] {escape(path)}: {escape(gap)}", highlight=False)
    if gaps:
        return None
    return {"target_file": target, "allow_remote": args.allow_remote, "admin_token": token}


def _cmd_run(args: argparse.Namespace, console: Console) -> int:
    from gameday.async_main import run_to_completion
    from gameday.report.console import console_report
    from gameday.report.live import LiveConsole
    from gameday.runner import RunSettings, run_scenario  # the runner pulls in the whole stack
    from gameday.stress import under_stress

    target = None if args.target is None else _target_file(args, console)
    if args.target is not None and target is None:
        return EXIT_INVALID
    scenarios = _load_all(args.scenarios, restartable=None if target is None else [
        service for service, access in target.services.items() if access.can("restart")])
    if scenarios is None or not _known_defects(args.defect, console):
        return EXIT_INVALID
    attached = {} if target is None else _attached(args, target, args.scenarios, scenarios, console,
                                                       args.defect)
    if attached is None:
        return EXIT_INVALID
    allowed, toxiproxy_url = _toxiproxy_url(args, console)
    if not allowed:
        return EXIT_INVALID
    settings = RunSettings(reports_root=args.reports.resolve(),
                           extra_defects=tuple(args.defect),
                           toxiproxy_url=toxiproxy_url, stress=args.stress,
                           backend=args.backend, load_ui=args.load_ui, reports_in_background=True,
                           **attached)
    worst = 0
    for path, scenario in zip(args.scenarios, scenarios, strict=True):
        console.rule(f"{scenario.name}")
        outcome = run_to_completion(under_stress(args.stress, settings.reports_root, partial(
            run_scenario, scenario, path, settings, live=LiveConsole(console))))
        if outcome.error:
            console.print(f"[bold red]run aborted:[/] {escape(outcome.error)}", highlight=False)
        console.print(console_report(outcome.result))
        outcome.reports.wait()  # the verdict is printed; report.html is written meanwhile
        console.print(f"  reports: {outcome.run_dir} (report.html, summary.md)", highlight=False)
        worst = max(worst, outcome.result.exit_code, key=lambda code: (code == 1, code))
    return worst


MATRIX_LOG_WIDTH = 180


def _cmd_matrix(args: argparse.Namespace, console: Console) -> int:
    from gameday.async_main import run_to_completion
    from gameday.matrix import Matrix, RunRequest, run_matrix, write_matrix
    from gameday.report.matrix_html import write_matrix_html
    from gameday.report.matrix_junit import matrix_junit_xml
    from gameday.report.matrix_table import load_text, matrix_markdown, matrix_table
    from gameday.runner import RunSettings, run_scenario
    from gameday.starvation import LoadMeter
    from gameday.stress import Burners
    from gameday.verdict import RunResult

    paths = args.scenarios or sorted(Path("scenarios").glob("*.yaml"))
    if not paths:
        console.print("[bold red]no scenarios[/]: give scenario files or run from the project root")
        return EXIT_INVALID
    if args.repeat < 1:
        console.print("[bold red]--repeat[/] must be at least 1")
        return EXIT_INVALID
    target = None if args.target is None else _target_file(args, console)
    if args.target is not None and target is None:
        return EXIT_INVALID
    scenarios = _load_all(paths)
    if scenarios is None:
        return EXIT_INVALID
    attached = {} if target is None else _attached(args, target, paths, scenarios, console)
    if attached is None:
        return EXIT_INVALID
    reports = args.reports.resolve()
    out = reports if args.out is None else args.out.resolve()
    allowed, toxiproxy_url = _toxiproxy_url(args, console)
    if not allowed:
        return EXIT_INVALID

    async def run_one(request: RunRequest) -> tuple[RunResult, str | None, str | None]:
        settings = RunSettings(reports_root=reports / "matrix", extra_defects=request.defects,
                               toxiproxy_url=toxiproxy_url, stress=args.stress, backend=args.backend,
                               **attached)
        outcome = await run_scenario(request.scenario, request.path, settings)
        return outcome.result, str(outcome.run_dir), outcome.error

    written: list[Matrix] = []

    def write_reports(matrix: Matrix) -> tuple[Path, Path, Path, Path]:
        """matrix.json, matrix.md, matrix.xml and matrix.html; rewritten after each row, so an
        interrupted matrix leaves the rows it finished (marked incomplete)."""
        markdown, junit = out / "matrix.md", out / "matrix.xml"
        json_path = write_matrix(matrix, out)
        markdown.write_text(matrix_markdown(matrix), encoding="utf-8")
        junit.write_text(matrix_junit_xml(matrix), encoding="utf-8")
        html = write_matrix_html(matrix, out)
        written[:] = [matrix]
        return json_path, markdown, junit, html

    async def matrix_under_stress() -> Matrix:
        """The burners start before the first row and are stopped and reaped however it ends."""
        async with Burners(args.stress, reports / "matrix") as burners, LoadMeter() as meter:
            if burners.count:
                console.print(f"  stress: {burners.count} CPU burner(s), pids {list(burners.pids)}",
                              highlight=False)
            return await run_matrix(
                list(zip(paths, scenarios, strict=True)), run_one, args.repeat, on_row=write_reports,
                stress=args.stress, load=meter.summary, with_defects=target is None,
                progress=lambda line: console.print(f"  {line}", markup=False, highlight=False))

    try:
        matrix = run_to_completion(matrix_under_stress())
    except (KeyboardInterrupt, Terminated):
        if written:
            finished = f"{len(written[0].rows)} of {len(paths)} rows finished"
            console.print(f"  {finished}: {out / 'matrix.json'} (and .md, .xml), marked incomplete",
                          highlight=False)
        raise
    # a log file has no width to fit: print the matrix wide enough to keep every name whole
    width = console.width if console.is_terminal else max(console.width, MATRIX_LOG_WIDTH)
    console.print(matrix_table(matrix, width), width=width)
    console.print(f"  {load_text(matrix)}", highlight=False)
    json_path, markdown, junit, html = write_reports(matrix)
    console.print(f"  matrix: {json_path}\n  as Markdown: {markdown}\n  as JUnit: {junit}\n  as HTML: {html}",
                  highlight=False)
    return 0 if matrix.as_expected else 1


def _cmd_analyze(args: argparse.Namespace, console: Console) -> int:
    from gameday.analyze import ScenarioFile, analyze_runs

    if args.scenario is None:
        return analyze_runs(args.run_dirs, console)
    loaded = _load_all([args.scenario])  # a bad file reads as it does for `gameday validate`
    if loaded is None:
        return EXIT_INVALID
    return analyze_runs(args.run_dirs, console, ScenarioFile(args.scenario, loaded[0]))


def _cmd_toxiproxy(args: argparse.Namespace, console: Console) -> int:
    from gameday.proxy.__main__ import main as proxy_main

    return proxy_main(["--host", args.host, "--port", str(args.port), "--seed", str(args.seed),
                       *(["--allow-remote"] if args.allow_remote else [])])


def _cmd_contract(args: argparse.Namespace, console: Console) -> int:
    from gameday.contract.cli import cmd_contract

    return cmd_contract(args, console)


COMMANDS = {"run": _cmd_run, "validate": _cmd_validate, "analyze": _cmd_analyze, "matrix": _cmd_matrix,
            "toxiproxy-server": _cmd_toxiproxy, "contract": _cmd_contract}


def main(argv: Sequence[str] | None = None) -> None:
    # a shell starts background jobs with SIGINT ignored, and children inherit that; the harness
    # must stop its stack on SIGINT however it was started
    signal.signal(signal.SIGINT, signal.default_int_handler)
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["exchange"]:  # the venue's own parser, imported only for this command
        from mock_exchange.cli import main as exchange_main

        sys.exit(exchange_main(given[1:]))
    args = _parser().parse_args(given)
    if args.command == "validate":
        sys.exit(_validate_main(args))
    from rich.console import Console

    console = Console(highlight=False)
    try:
        code = COMMANDS[args.command](args, console)
    except KeyboardInterrupt:
        console.print("[bold yellow]interrupted[/]: every process of the run was stopped")
        code = EXIT_INTERRUPTED
    except Terminated:
        console.print("[bold yellow]terminated[/]: every process of the run was stopped")
        code = EXIT_INTERRUPTED
    except GamedayError as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        code = EXIT_INVALID
    sys.exit(code)


def _validate_main(args: argparse.Namespace) -> int:
    lines = PlainLines()
    try:
        return _cmd_validate(args, lines)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except GamedayError as error:
        lines.error(f"error: {error}")
        return EXIT_INVALID


if __name__ == "__main__":
    main()
