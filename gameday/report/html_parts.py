"""Pieces of the run's ``report.html``: the identity block, the expectations table, the fault
table and the links to the run's files. Every text that came from a scenario, a stack or a
checker is escaped here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gameday.history import Op, OpKind
from gameday.report.data_model import FaultWindow, ReportData
from gameday.starvation import StarvationSummary
from gameday.verdict import ExpectationResult, RunResult, Verdict

__all__ = ["RAW_FILES", "RunFiles", "RunInfo", "expectations_html", "faults_html", "files_html",
           "identity_html", "starvation_text", "verdict_badge"]

RAW_FILES = ("summary.md", "report-data.json", "results.json", "junit.xml", "history.jsonl", "scenario.yaml",
             "run.json", "ledger.jsonl")
"""The run directory's own files a report links to (those present)."""
EVIDENCE_LIMIT = 200_000
"""Evidence longer than this (characters of JSON) is cut in the page; results.json has it whole."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


@dataclass(frozen=True)
class RunInfo:
    """What the run directory and the run's start op say about the run beyond its result."""

    target: str | None = None
    preset: str | None = None
    description: str | None = None
    command: str | None = None

    @classmethod
    def read(cls, run_dir: Path, ops: Sequence[Op]) -> RunInfo:
        record = _read_json(run_dir / "run.json")
        scenario = _read_yaml(run_dir / "scenario.yaml")
        start = next((op.value for op in ops if op.kind == OpKind.RUN and op.f == "start"), {})
        target = record.get("target") or start.get("target")
        if isinstance(target, dict):
            target = target.get("name")
        argv = record.get("argv")
        description = scenario.get("description")
        return cls(target=str(target) if target else None,
                   preset=str(start["preset"]) if start.get("preset") else None,
                   description=description if isinstance(description, str) else None,
                   command=" ".join(str(arg) for arg in argv) if isinstance(argv, list) else None)


@dataclass(frozen=True)
class RunFiles:
    """The files of a run directory a report links to, by path relative to it."""

    raw: tuple[str, ...] = ()
    logs: tuple[str, ...] = ()
    configs: tuple[str, ...] = field(default=())

    @classmethod
    def scan(cls, run_dir: Path) -> RunFiles:
        stack = run_dir / "stack"
        listed = sorted(stack.iterdir()) if stack.is_dir() else []
        return cls(raw=tuple(name for name in RAW_FILES if (run_dir / name).is_file()),
                   logs=tuple(f"stack/{path.name}" for path in listed if path.suffix == ".log"),
                   configs=tuple(f"stack/{path.name}" for path in listed if path.suffix == ".json"))


def verdict_badge(verdict: str, text: str | None = None) -> str:
    return f'<span class="badge {escape(verdict)}">{escape(text or verdict.upper())}</span>'


def _link(path: str, text: str | None = None) -> str:
    return f'<a href="{escape(quote(path))}">{escape(text or path)}</a>'


def starvation_text(starvation: StarvationSummary) -> str:
    """The machine's state during the run, in one line."""
    parts = []
    if starvation.starved:
        parts.append(f"STARVED ({', '.join(starvation.reasons)}); the verdict is unchanged")
    lag = starvation.harness_loop_lag
    if lag is not None:
        parts.append(f"harness loop lag p50 {lag.p50_ms:.0f} / p99 {lag.p99_ms:.0f} / "
                     f"max {lag.max_ms:.0f} ms")
    load = starvation.load_average
    if load is not None:
        parts.append(f"load average max {load.max_1m:.2f}, mean {load.mean_1m:.2f} on {load.cores} cores")
    if starvation.sut_loop_lag:
        parts.append("SUT loop lag max " + ", ".join(f"{sut.instance} {sut.max_ms:.0f} ms"
                                                     for sut in starvation.sut_loop_lag))
    if starvation.stress:
        parts.append(f"{starvation.stress} CPU burner(s)")
    return "; ".join(parts) or "not recorded"


def _row(name: str, value: str | None, *, raw: bool = False) -> str:
    shown = "—" if not value else (value if raw else escape(value))
    return f"<dt>{escape(name)}</dt><dd>{shown}</dd>"


COMMAND_SHOWN = 120


def _command(command: str | None) -> str | None:
    """The command line; a long one (a matrix names every scenario) folded after its start."""
    if not command:
        return None
    if len(command) <= COMMAND_SHOWN:
        return f"<code>{escape(command)}</code>"
    return (f"<details><summary><code>{escape(command[:COMMAND_SHOWN])}…</code></summary>"
            f"<code>{escape(command)}</code></details>")


def identity_html(result: RunResult, info: RunInfo, data: ReportData) -> str:
    counts = result.counts
    rows = [
        _row("scenario", result.scenario),
        _row("description", info.description),
        _row("seed", str(result.seed)),
        _row("defects", ", ".join(result.defects) or "none (the correct stack)"),
        _row("target", " · ".join(part for part in (info.target, info.preset and f"preset {info.preset}")
                                  if part) or None),
        _row("run id", result.run_id),
        _row("started", result.started_wall),
        _row("ended", result.ended_wall),
        _row("recorded", f"{data.end_s:.1f} s from the {data.origin}"),
        _row("expectations", f"{counts[Verdict.PASS]} passed, {counts[Verdict.FAIL]} failed, "
                             f"{counts[Verdict.UNKNOWN]} unknown"),
        _row("machine", None if result.starvation is None else starvation_text(result.starvation)),
        _row("command", _command(info.command), raw=True),
    ]
    if result.run_status is not None and result.run_status.stopped_early:
        rows.insert(0, _row(result.run_status.value.upper(), result.abort_reason or "no reason recorded"))
    return f'<dl class="identity">{"".join(rows)}</dl>'


def _evidence(expectation: ExpectationResult) -> str:
    text = json.dumps(expectation.evidence, indent=2, sort_keys=True, default=str)
    cut = len(text) > EVIDENCE_LIMIT
    if cut:
        text = text[:EVIDENCE_LIMIT] + "\n… (cut: results.json holds it whole)"
    if not expectation.evidence:
        return '<div class="muted small">no evidence</div>'
    return f"<details><summary>evidence</summary><pre>{escape(text)}</pre></details>"


def expectations_html(expectations: Iterable[ExpectationResult]) -> str:
    """One row per expectation; its evidence folded under its note."""
    rows = []
    for expectation in expectations:
        note = escape(expectation.note)
        if expectation.error:
            note += f'<div class="error">error: {escape(expectation.error)}</div>'
        rows.append(
            f'<tr class="{escape(expectation.verdict.value)}" id="expect-{escape(expectation.name)}">'
            f"<td><code>{escape(expectation.name)}</code></td>"
            f'<td class="nowrap">{escape(expectation.bound_text)}</td>'
            f'<td class="num">{escape(expectation.observed_text)}</td>'
            f"<td>{verdict_badge(expectation.verdict.value)}</td><td>{note}{_evidence(expectation)}</td></tr>")
    if not rows:
        rows.append('<tr><td colspan="5" class="muted">the scenario expects nothing</td></tr>')
    head = ("<tr><th>expectation</th><th>bound</th><th>observed</th><th>verdict</th>"
            "<th>note and evidence</th></tr>")
    return f'<table class="expectations"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"t+{value:.2f} s"


def faults_html(faults: Sequence[FaultWindow]) -> str:
    if not faults:
        return '<p class="muted">No fault was injected.</p>'
    rows = []
    for fault in faults:
        until = "instant" if fault.instant else _seconds(fault.heal_s) if fault.heal_s is not None \
            else "never healed"
        params = json.dumps(fault.params, sort_keys=True, default=str)
        rows.append(f'<tr class="{"" if fault.applied else "fail"}"><td><b>{escape(fault.tag)}</b></td>'
                    f"<td>{escape(fault.label)}</td><td><code>{escape(fault.fault_id or '')}</code></td>"
                    f"<td>{_seconds(fault.start_s)}</td><td>{escape(until)}</td>"
                    f"<td><code>{escape(params)}</code></td></tr>")
    head = "<tr><th>tag</th><th>fault</th><th>id</th><th>applied</th><th>healed</th><th>parameters</th></tr>"
    return f'<table class="faults"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def files_html(files: RunFiles) -> str:
    def listing(title: str, paths: Sequence[str]) -> str:
        if not paths:
            return ""
        items = "".join(f"<li>{_link(path)}</li>" for path in paths)
        return f"<div><h3>{escape(title)}</h3><ul>{items}</ul></div>"

    body = (listing("service logs", files.logs) + listing("raw files", files.raw)
            + listing("service configuration", files.configs))
    return f'<div class="files">{body or "<p class=muted>no file found beside the report</p>"}</div>'
