"""Where to look after a FAIL or UNKNOWN: each instance's last role change and the log it wrote.

The role changes come from the history alone (:func:`last_role_changes`); the logs are whatever
the run kept under ``<run_dir>/stack/*.log`` (:func:`stack_logs`), listed, never assumed: an
instance's log is the one named after it, when there is one, and every other log is listed too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.history import Op, OpKind
from gameday.verdict import Verdict

__all__ = ["RoleChange", "last_role_changes", "offset", "silent_since", "stack_logs", "sut_time",
           "where_to_look"]

NS = 1_000_000_000
INDENT = "  "


def offset(t_ns: int, origin_ns: int) -> str:
    """``t+12.3s``: seconds from the run's start (``t-0.4s`` before it)."""
    seconds = round((t_ns - origin_ns) / NS, 1) or 0.0  # never "t-0.0s"
    return f"t{seconds:+.1f}s"


def sut_time(op: Op) -> int:
    """When the SUT says its event happened (its ``t_ns``, the shared clock), else when recorded."""
    t_ns = op.value.get("t_ns")
    return t_ns if isinstance(t_ns, int) and not isinstance(t_ns, bool) else op.t_ns


@dataclass(frozen=True)
class RoleChange:
    t_ns: int
    role: str
    reason: str


def _changed(changes: dict[str, RoleChange | None], name: str, change: RoleChange) -> None:
    before = changes.get(name)
    if before is None or before.role != change.role:
        changes[name] = change


def last_role_changes(ops: Iterable[Op]) -> dict[str, RoleChange | None]:
    """Each instance's last role change, from its ``oms.roles`` events, else (a stack that
    publishes none) from the health probe's samples; ``None``: never seen with a role."""
    announced: dict[str, RoleChange | None] = {}
    sampled: dict[str, RoleChange | None] = {}
    for op in ops:
        if op.kind == OpKind.SUT and op.f == "roles" and "instance" in op.value:
            _changed(announced, str(op.value["instance"]), RoleChange(
                sut_time(op), str(op.value.get("role")), str(op.value.get("reason") or "oms.roles")))
        elif op.kind == OpKind.PROBE and op.f == "health" and isinstance(op.value.get("instances"), dict):
            for name, sample in op.value["instances"].items():
                role = sample.get("role") if isinstance(sample, dict) else None
                sampled.setdefault(str(name), None)
                if role is not None:
                    _changed(sampled, str(name), RoleChange(op.t_ns, str(role), "health probe"))
    return {name: announced.get(name) or sampled.get(name) for name in (*announced, *sampled)}


def silent_since(ops: Iterable[Op]) -> dict[str, int]:
    """The instances whose ``/role`` the health probe could not read at its last samples, and since
    when (a killed instance announces nothing: its last role change still says it was active)."""
    silent: dict[str, int] = {}
    for op in ops:
        if op.kind == OpKind.PROBE and op.f == "health" and isinstance(op.value.get("instances"), dict):
            for name, sample in op.value["instances"].items():
                if isinstance(sample, dict) and sample.get("role") is not None:
                    silent.pop(str(name), None)
                else:
                    silent.setdefault(str(name), op.t_ns)
    return silent


def stack_logs(run_dir: Path) -> list[Path]:
    """The logs a run kept of its stack: every ``<run_dir>/stack/*.log``, by name."""
    return sorted((run_dir / "stack").glob("*.log"))


def where_to_look(verdict: Verdict, changes: Mapping[str, RoleChange | None], silent: Mapping[str, int],
                  logs: Sequence[Path], origin_ns: int) -> list[str]:
    """Each instance's last role change (offset from ``origin_ns``), whether it stopped answering,
    and its log; then the other logs."""
    lines = [f"{verdict.value.upper()}: each instance's last role change and its log"]
    by_stem = {log.stem: log for log in logs}
    for name, change in changes.items():
        last = (f"{offset(change.t_ns, origin_ns)} {change.role} ({change.reason})" if change
                else "no role seen")
        if name in silent:
            last += f"; no /role answer since {offset(silent[name], origin_ns)}"
        log = by_stem.pop(name, None)
        lines.append(f"{INDENT}{name}: {last}; log {log if log else 'none named after it under stack/'}")
    if by_stem:
        lines.append(f"{INDENT}other logs: {', '.join(str(log) for log in by_stem.values())}")
    if not logs:
        lines.append(f"{INDENT}no logs under stack/ (a stack this run attached to keeps its own)")
    return lines
