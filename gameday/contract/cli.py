"""``gameday contract check --target FILE``: probe a running OMS against the SUT contract.

Exit codes: 0 every check passed (skipped ones aside); 1 a check failed; 2 the target file is bad (or
names an environment variable for the venue's admin token that is not set, or asks the harness to run
a venue, ``venue.run``, that did not start: the check starts it for its duration).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gameday.contract.defaults import DEFAULT_SYMBOL, DEFAULT_TIMEOUT_S
from gameday.errors import GamedayError

if TYPE_CHECKING:  # the checks pull in aiohttp: the parser of every gameday command must not
    from rich.console import Console

    from gameday.contract.instance import AdminToken
    from gameday.target_file import TargetFile

__all__ = ["EXIT_BAD_TARGET", "add_contract_parser", "cmd_contract"]

EXIT_BAD_TARGET = 2


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def add_contract_parser(commands: argparse._SubParsersAction) -> None:
    contract = commands.add_parser(
        "contract", help="check a running OMS against the SUT contract (docs/contracts.md §4)")
    actions = contract.add_subparsers(dest="contract_command", required=True)
    check = actions.add_parser(
        "check", help="probe every OMS instance of a target file: what conforms, what does not, and which "
                      "expectations each gap makes ungradable (exit 0 conforms, 1 gaps, 2 bad target file)")
    check.add_argument("--target", type=Path, required=True, metavar="FILE",
                       help="the target file naming the OMS instances and the venue (docs/targets.md)")
    check.add_argument("--allow-remote", action="store_true",
                       help="let the target file name endpoints off loopback")
    check.add_argument("--trade", action="store_true",
                       help="also run the position round trip: a market buy of 1, then a sell of 1 "
                            "(it trades)")
    check.add_argument("--json", action="store_true", help="print the report as JSON instead of tables")
    check.add_argument("--timeout-s", type=_positive_seconds, default=DEFAULT_TIMEOUT_S, metavar="S",
                       help=f"bound on every request (default {DEFAULT_TIMEOUT_S:g}, the harness client's)")
    check.add_argument("--symbol", default=DEFAULT_SYMBOL,
                       help=f"the symbol the order round trips use (default {DEFAULT_SYMBOL})")


def _admin_token(target: TargetFile, environ: dict[str, str]) -> AdminToken:
    """The token the harness would use; its absence only skips the check that needs it."""
    from gameday.contract.instance import AdminToken
    from gameday.stack.external import admin_token_of  # the stack package is heavy: load it when used

    try:
        token = admin_token_of(target, environ)
    except GamedayError as error:
        return AdminToken(None, str(error))
    return AdminToken(token) if token else AdminToken()


def cmd_contract(args: argparse.Namespace, console: Console) -> int:
    from gameday.async_main import run_to_completion  # SIGTERM stops a venue the check started
    from gameday.contract.report import render_report
    from gameday.contract.run import CheckOptions, check_contract
    from gameday.stack.external import venue_admin_token_of
    from gameday.target_file import load_target_file

    try:
        target = load_target_file(args.target, allow_remote=args.allow_remote)
        venue_token = venue_admin_token_of(target, os.environ)
    except GamedayError as error:  # a bad file, or venue.admin_token_env names an unset variable
        console.print(str(error), style="bold red", markup=False, highlight=False)
        return EXIT_BAD_TARGET
    options = CheckOptions(timeout_s=args.timeout_s, trade=args.trade, symbol=args.symbol)
    report = run_to_completion(check_contract(target, options, _admin_token(target, dict(os.environ)),
                                              venue_token=venue_token))
    if args.json:
        console.out(json.dumps(report.as_dict(), indent=2), highlight=False)
    else:
        console.print(render_report(report))
    return report.exit_code
