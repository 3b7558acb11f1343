"""Applies faults to a stack and heals them; every fault has its heal.

Process faults go through the stack's ``signal``; network faults are toxics or a disabled proxy
through the Toxiproxy API, so a real toxiproxy-server can stand in for ours.
"""

from __future__ import annotations

import asyncio
import signal
import time
from functools import singledispatch
from typing import Any, Protocol

from gameday.faults.schedule import Step, StepAction
from gameday.faults.toxiproxy_client import ToxiproxyClient
from gameday.history import History, OpKind, OpType
from gameday.scenario.faults import (
    Fault,
    KillFault,
    LatencyFault,
    PartitionFault,
    PartitionMode,
    PauseFault,
    Stream,
)


class FaultTarget(Protocol):
    """What a stack offers to faults."""

    toxiproxy: ToxiproxyClient | None

    def signal(self, service: str, sig: signal.Signals) -> None: ...


def _streams(stream: Stream) -> tuple[str, ...]:
    return ("upstream", "downstream") if stream == Stream.BOTH else (stream.value,)


def _proxy_client(target: FaultTarget) -> ToxiproxyClient:
    if target.toxiproxy is None:
        raise RuntimeError("this stack has no fault proxy")
    return target.toxiproxy


@singledispatch
async def apply_fault(fault: Fault, target: FaultTarget, ident: str) -> dict[str, Any]:
    raise NotImplementedError(f"no way to apply {type(fault).__name__}")


@singledispatch
async def heal_fault(fault: Fault, target: FaultTarget, ident: str) -> dict[str, Any]:
    raise NotImplementedError(f"no way to heal {type(fault).__name__}")


@apply_fault.register
async def _(fault: KillFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    target.signal(fault.target, signal.Signals[fault.signal.value])
    return {"target": fault.target, "signal": fault.signal.value}


@heal_fault.register
async def _(fault: KillFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    return {"target": fault.target, "note": "a killed process stays down; nothing to heal"}


@apply_fault.register
async def _(fault: PauseFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    target.signal(fault.target, signal.SIGSTOP)
    return {"target": fault.target, "for_s": fault.duration.seconds}


@heal_fault.register
async def _(fault: PauseFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    target.signal(fault.target, signal.SIGCONT)
    return {"target": fault.target}


@apply_fault.register
async def _(fault: LatencyFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    client = _proxy_client(target)
    for stream in _streams(fault.stream):
        await client.add_toxic(fault.proxy, "latency", name=f"{ident}-{stream}", stream=stream,
                               attributes={"latency": fault.latency_ms, "jitter": fault.jitter_ms})
    return {"proxy": fault.proxy, "latency_ms": fault.latency_ms, "jitter_ms": fault.jitter_ms,
            "stream": fault.stream.value, "for_s": fault.duration.seconds}


@heal_fault.register
async def _(fault: LatencyFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    client = _proxy_client(target)
    for stream in _streams(fault.stream):
        await client.remove_toxic(fault.proxy, f"{ident}-{stream}")
    return {"proxy": fault.proxy}


@apply_fault.register
async def _(fault: PartitionFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    client = _proxy_client(target)
    if fault.mode == PartitionMode.DOWN:
        await client.set_enabled(fault.proxy, False)
    else:
        for stream in ("upstream", "downstream"):
            await client.add_toxic(fault.proxy, "timeout", name=f"{ident}-{stream}", stream=stream,
                                   attributes={"timeout": 0})
    return {"proxy": fault.proxy, "mode": fault.mode.value, "for_s": fault.duration.seconds}


@heal_fault.register
async def _(fault: PartitionFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    client = _proxy_client(target)
    if fault.mode == PartitionMode.DOWN:
        await client.set_enabled(fault.proxy, True)
    else:
        for stream in ("upstream", "downstream"):
            await client.remove_toxic(fault.proxy, f"{ident}-{stream}")
    return {"proxy": fault.proxy}


class Nemesis:
    """Plays a plan against a stack, recording each step; ``heal_all`` is the final generator."""

    def __init__(self, target: FaultTarget, history: History) -> None:
        self._target = target
        self._history = history
        self._active: dict[str, Fault] = {}

    async def _step(self, action: StepAction, ident: str, fault: Fault) -> None:
        f = fault.fault.value if action == StepAction.START else "heal"
        base = {"fault_id": ident, "fault": fault.fault.value}
        self._history.append(OpKind.FAULT, OpType.INVOKE, "nemesis", f, base)
        try:
            if action == StepAction.START:
                detail = await apply_fault(fault, self._target, ident)
                self._active[ident] = fault
            else:
                detail = await heal_fault(fault, self._target, ident)
                self._active.pop(ident, None)
        except Exception as error:
            self._history.append(OpKind.FAULT, OpType.FAIL, "nemesis", f,
                                 {**base, "error": f"{type(error).__name__}: {error}"})
            return
        self._history.append(OpKind.FAULT, OpType.OK, "nemesis", f, {**base, **detail})

    async def play(self, steps: list[Step], started_ns: int) -> None:
        for step in steps:
            delay = (started_ns + step.at_ns - time.monotonic_ns()) / 1e9
            if delay > 0:
                await asyncio.sleep(delay)
            if step.action == StepAction.HEAL and step.fault_id not in self._active:
                continue
            await self._step(step.action, step.fault_id, step.fault)

    async def heal_all(self) -> None:
        for ident, fault in list(self._active.items()):
            await self._step(StepAction.HEAL, ident, fault)
