"""The contract check's verdict: data first (:meth:`ContractReport.as_dict`, what ``--json`` prints),
then rich tables: one for the stack, one per instance, and a summary of the gaps and the expectations
each makes ungradable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from gameday.contract.checks import CHECKS, CHECKS_BY_ID, STACK, Check, CheckResult, Outcome

__all__ = ["ContractReport", "Gap", "render_report"]

_ORDER = {check.id: index for index, check in enumerate(CHECKS)}
_STYLE = {Outcome.PASS: "green", Outcome.FAIL: "bold red", Outcome.SKIPPED: "yellow"}
EXIT_CONFORMS = 0
EXIT_GAPS = 1


@dataclass(frozen=True)
class Gap:
    """A check that failed somewhere: where, what was seen, and what it makes ungradable."""

    check: Check
    seen: Mapping[str, str]
    """Scope (``stack`` or an instance) → what was seen there."""

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check.id, "route": self.check.route, "verifies": self.check.verifies,
                "where": dict(self.seen), "ungradable": list(self.check.needed_by),
                "blocks_run": self.check.blocks_run}


@dataclass(frozen=True)
class ContractReport:
    target: str
    venue: str
    instances: Mapping[str, str]
    """Instance name → base URL, in the target file's order."""
    results: tuple[CheckResult, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    adapter: str | None = None
    """The target file's OMS adapter the checks went through (``oms.adapter``), if it names one."""

    def scopes(self) -> list[str]:
        return [STACK, *self.instances]

    def of(self, scope: str) -> list[CheckResult]:
        found = [result for result in self.results if result.scope == scope]
        return sorted(found, key=lambda result: _ORDER[result.check_id])

    def gaps(self) -> list[Gap]:
        failed: dict[str, dict[str, str]] = {}
        for scope in self.scopes():
            for result in self.of(scope):
                if result.outcome is Outcome.FAIL:
                    failed.setdefault(result.check_id, {})[scope] = result.detail
        return [Gap(CHECKS_BY_ID[check_id], seen) for check_id, seen in
                sorted(failed.items(), key=lambda item: _ORDER[item[0]])]

    @property
    def conforms(self) -> bool:
        return not any(result.outcome is Outcome.FAIL for result in self.results)

    @property
    def exit_code(self) -> int:
        return EXIT_CONFORMS if self.conforms else EXIT_GAPS

    def run_blocked_by(self) -> list[str]:
        return [gap.check.id for gap in self.gaps() if gap.check.blocks_run]

    def ungradable(self) -> list[str]:
        """The union of what every gap makes ungradable (not counting a blocked run's "everything")."""
        return sorted({name for gap in self.gaps() for name in gap.check.needed_by})

    def as_dict(self) -> dict[str, Any]:
        counts = {outcome.value: sum(result.outcome is outcome for result in self.results)
                  for outcome in Outcome}
        return {
            "target": self.target, "venue": self.venue, "instances": dict(self.instances),
            "adapter": self.adapter, "options": dict(self.options), "conforms": self.conforms,
            "counts": counts,
            "results": {scope: [{"check": result.check_id, "route": CHECKS_BY_ID[result.check_id].route,
                                 "outcome": result.outcome.value, "detail": result.detail}
                                for result in self.of(scope)] for scope in self.scopes()},
            "gaps": [gap.as_dict() for gap in self.gaps()],
            "ungradable": self.ungradable(), "run_blocked_by": self.run_blocked_by(),
            "exit_code": self.exit_code,
        }


def _scope_table(report: ContractReport, scope: str) -> Table:
    where = report.venue if scope == STACK else report.instances[scope]
    if scope != STACK and report.adapter is not None:
        where += f"  through {report.adapter}"
    table = Table(title=Text(f"{scope}  {where}", style="bold"), title_justify="left", expand=False)
    table.add_column("check", no_wrap=True)
    table.add_column("route", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("seen / why")
    for run in _runs(report.of(scope)):
        first, last = run[0], run[-1]
        if len(run) == 1:
            check, route = first.check_id, escape(CHECKS_BY_ID[first.check_id].route)
        else:
            check, route = f"{first.check_id} … {last.check_id}", f"{len(run)} checks"
        outcome = Text(first.outcome.value, style=_STYLE[first.outcome])
        table.add_row(check, route, outcome, Text(first.detail))
    return table


def _runs(results: list[CheckResult]) -> list[list[CheckResult]]:
    """Consecutive results skipped for one reason share a row."""
    runs: list[list[CheckResult]] = []
    for result in results:
        previous = runs[-1][-1] if runs else None
        if (previous is not None and result.outcome is Outcome.SKIPPED and previous.outcome is Outcome.SKIPPED
                and result.detail == previous.detail):
            runs[-1].append(result)
        else:
            runs.append([result])
    return runs


def _gap_table(gaps: list[Gap]) -> Table:
    table = Table(title=Text("gaps", style="bold red"), title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("where")
    table.add_column("makes ungradable")
    for gap in gaps:
        if gap.check.blocks_run:
            ungradable = Text("every expectation: no run can start", style="bold red")
        elif gap.check.needed_by:
            ungradable = Text(", ".join(gap.check.needed_by))
        else:
            ungradable = Text("no expectation (a contract gap all the same)", style="dim")
        table.add_row(Text(f"{gap.check.id}\n{gap.check.verifies}"), Text(", ".join(gap.seen)), ungradable)
    return table


def _summary(report: ContractReport) -> Text:
    skipped = sum(result.outcome is Outcome.SKIPPED for result in report.results)
    if report.conforms:
        tail = f" ({skipped} skipped)" if skipped else ""
        return Text.assemble(("conforms", "bold green"), f": every check passed{tail}")
    blocked = report.run_blocked_by()
    if blocked:
        return Text.assemble(("does not conform", "bold red"),
                             f": no run can start ({', '.join(blocked)}), so every expectation is ungradable")
    ungradable = report.ungradable()
    count = len(report.gaps())
    return Text.assemble(("does not conform", "bold red"), f": {count} gap{'s' if count > 1 else ''}; "
                         f"ungradable: {', '.join(ungradable) if ungradable else 'none'}")


def render_report(report: ContractReport) -> RenderableType:
    parts: list[RenderableType] = [_scope_table(report, scope) for scope in report.scopes()]
    gaps = report.gaps()
    if gaps:
        parts.append(_gap_table(gaps))
    parts.append(_summary(report))
    return Group(*parts)
