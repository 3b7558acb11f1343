"""Applies faults to a stack and heals them; every fault has its heal.

Process faults go through the stack's ``signal``; network faults are toxics or a disabled proxy
through the Toxiproxy API, so a real toxiproxy-server can stand in for ours; exchange faults go
through the venue's admin API.
"""

from __future__ import annotations

import signal
from functools import singledispatch
from typing import Any, Protocol

from gameday.clock import sleep_until
from gameday.faults.schedule import Step, StepAction
from gameday.faults.toxiproxy_client import ToxiproxyClient
from gameday.history import History, OpKind, OpType
from gameday.scenario.faults import (
    ExchangeFault,
    ExchangeFaultKind,
    Fault,
    FaultBase,
    KillFault,
    PartitionFault,
    PartitionMode,
    PauseFault,
    Stream,
    ToxicFault,
)
from gameday.scenario.repeat import OCCURRENCE_MARK


class FaultTarget(Protocol):
    """What a stack offers to faults."""

    toxiproxy: ToxiproxyClient | None

    async def signal(self, service: str, sig: signal.Signals) -> None: ...

    async def exchange_fault(self, kind: ExchangeFaultKind, params: dict[str, Any]) -> dict[str, Any]: ...

    async def heal_exchange_fault(self, kind: ExchangeFaultKind) -> None: ...


def _streams(stream: Stream) -> tuple[str, ...]:
    return ("upstream", "downstream") if stream == Stream.BOTH else (stream.value,)


def _toxic_name(ident: str, stream: str) -> str:
    """A toxic's name: the fault id (an occurrence's ``#`` made URL-safe) and the stream."""
    return f"{ident}-{stream}".replace(OCCURRENCE_MARK, "-")


def _proxy_client(target: FaultTarget) -> ToxiproxyClient:
    if target.toxiproxy is None:
        raise RuntimeError("this stack has no fault proxy")
    return target.toxiproxy


@singledispatch
async def apply_fault(fault: FaultBase, target: FaultTarget, ident: str) -> dict[str, Any]:
    raise NotImplementedError(f"no way to apply {type(fault).__name__}")


@singledispatch
async def heal_fault(fault: FaultBase, target: FaultTarget, ident: str) -> dict[str, Any]:
    raise NotImplementedError(f"no way to heal {type(fault).__name__}")


@apply_fault.register
async def _(fault: KillFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    await target.signal(fault.target, signal.Signals[fault.signal.value])
    return {"target": fault.target, "signal": fault.signal.value}


@heal_fault.register
async def _(fault: KillFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    return {"target": fault.target, "note": "a killed process stays down; nothing to heal"}


@apply_fault.register
async def _(fault: PauseFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    await target.signal(fault.target, signal.SIGSTOP)
    return {"target": fault.target, "for_s": fault.duration.seconds}


@heal_fault.register
async def _(fault: PauseFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    await target.signal(fault.target, signal.SIGCONT)
    return {"target": fault.target}


@apply_fault.register
async def _(fault: ToxicFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    client = _proxy_client(target)
    for stream in _streams(fault.stream):
        await client.add_toxic(fault.proxy, fault.toxic_type, name=_toxic_name(ident, stream), stream=stream,
                               attributes=fault.attributes())
    return {"proxy": fault.proxy, "toxic": fault.toxic_type, "attributes": fault.attributes(),
            "stream": fault.stream.value, "for_s": fault.duration.seconds}


@heal_fault.register
async def _(fault: ToxicFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    client = _proxy_client(target)
    for stream in _streams(fault.stream):
        await client.remove_toxic(fault.proxy, _toxic_name(ident, stream))
    return {"proxy": fault.proxy}


@apply_fault.register
async def _(fault: ExchangeFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    stored = await target.exchange_fault(fault.kind, dict(fault.params))
    return {"target": "exchange", "kind": fault.kind.value, "params": stored,
            "for_s": None if fault.duration is None else fault.duration.seconds}


@heal_fault.register
async def _(fault: ExchangeFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    await target.heal_exchange_fault(fault.kind)
    return {"target": "exchange", "kind": fault.kind.value}


@apply_fault.register
async def _(fault: PartitionFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    client = _proxy_client(target)
    if fault.mode == PartitionMode.DOWN:
        await client.set_enabled(fault.proxy, False)
    else:
        for stream in ("upstream", "downstream"):
            await client.add_toxic(fault.proxy, "timeout", name=_toxic_name(ident, stream), stream=stream,
                                   attributes={"timeout": 0})
    return {"proxy": fault.proxy, "mode": fault.mode.value, "for_s": fault.duration.seconds}


@heal_fault.register
async def _(fault: PartitionFault, target: FaultTarget, ident: str) -> dict[str, Any]:
    client = _proxy_client(target)
    if fault.mode == PartitionMode.DOWN:
        await client.set_enabled(fault.proxy, True)
    else:
        for stream in ("upstream", "downstream"):
            await client.remove_toxic(fault.proxy, _toxic_name(ident, stream))
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
            await sleep_until(started_ns + step.at_ns)
            if step.action == StepAction.HEAL and step.fault_id not in self._active:
                continue
            await self._step(step.action, step.fault_id, step.fault)

    async def heal_all(self) -> None:
        for ident, fault in list(self._active.items()):
            await self._step(StepAction.HEAL, ident, fault)
