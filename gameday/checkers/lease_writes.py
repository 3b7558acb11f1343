"""Who held the lease when, read from the writes the lease bucket stored (``sut`` ops ``lease``).

The recorder reads every write the bucket stored, in the order it stored them (gameday.recorder).
When a write was stored is known only within bounds: not before the writer sent it (the value's
``t_ns``) and not after the harness received it (the op's ``t_ns``); a delete carries no send
time. Every instant here — those bounds and the venue's ``received_ns`` — is ``time.monotonic_ns()``
of the one host (docs/contracts.md), so they compare directly.

An instance holds the lease at ``t`` when the key's latest write at ``t`` is its own create or
update and that write is younger than the bucket's TTL (an older key has expired: its writer did
not renew). Where the bounds leave the latest write open, the reading favours the instance
judged: any write that may have been the latest at ``t`` (the last one received by ``t``, and every
later one sent by ``t``) that keeps it holding, counting the TTL from the write's receipt.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

from gameday.checkers.records import (
    LeaseDeclaration,
    LeaseOperation,
    LeaseWrite,
    Reference,
    parse,
    parse_value,
)
from gameday.history import Op, OpKind, OpType

__all__ = ["LEASE_KEY", "Judgement", "LeaseLog", "Loss", "StoredWrite", "lease_log"]

LEASE_KEY = "active"
LEASE_F = "lease"
MAX_LISTED_SPANS = 20


class Loss(StrEnum):
    """Why an instance did not hold the lease at an instant."""

    OTHER_HOLDER = "another holder's write was the latest"
    EXPIRED = "its own latest write was older than the TTL"
    DELETED = "the key was deleted after its latest write"


@dataclass(frozen=True)
class StoredWrite:
    """A write of the lease key, stored at some instant in [``sent_ns``, ``received_ns``]."""

    op: LeaseOperation
    instance: str | None
    epoch: int | None
    sent_ns: int | None  # None: not known (a delete)
    received_ns: int
    revision: int | None

    def live_for(self, instance: str, t_ns: int, ttl_ns: int) -> bool:
        """Were this the latest write at ``t_ns``, ``instance`` would hold a live key."""
        own = self.op is LeaseOperation.PUT and self.instance == instance
        return own and t_ns < self.received_ns + ttl_ns


@dataclass(frozen=True)
class Judgement:
    """Whether an instance held the lease at an instant; if not, why, and who did."""

    held: bool
    loss: Loss | None = None
    holder: str | None = None
    own_last: StoredWrite | None = None


@dataclass(frozen=True)
class LeaseLog:
    """The lease key's stored writes, in the order the bucket stored them, and the bucket's TTL."""

    bucket: str
    ttl_ns: int
    writes: tuple[StoredWrite, ...]

    @cached_property
    def _received(self) -> list[int]:
        return [write.received_ns for write in self.writes]

    def _candidates(self, t_ns: int) -> tuple[StoredWrite | None, list[StoredWrite]]:
        """The last write received by ``t_ns`` (surely stored by then), and every write that may
        have been the latest at ``t_ns``: that one and the later ones already sent."""
        last = bisect.bisect_right(self._received, t_ns) - 1
        surely = self.writes[last] if last >= 0 else None
        maybe = [write for write in self.writes[last + 1:]
                 if write.sent_ns is not None and write.sent_ns <= t_ns]
        return surely, ([surely] if surely is not None else []) + maybe

    def judge(self, instance: str, t_ns: int) -> Judgement | None:
        """Whether ``instance`` held the lease at ``t_ns``; ``None`` before the first write recorded."""
        surely, candidates = self._candidates(t_ns)
        if not candidates:
            return None
        if any(write.live_for(instance, t_ns, self.ttl_ns) for write in candidates):
            return Judgement(held=True, holder=instance)
        own = [write for write in self.writes if write.instance == instance and write.received_ns <= t_ns
               and write.op is LeaseOperation.PUT]
        latest = surely if surely is not None else candidates[-1]
        live = latest.op is LeaseOperation.PUT and t_ns < latest.received_ns + self.ttl_ns
        if latest.op is not LeaseOperation.PUT:
            loss = Loss.DELETED
        elif latest.instance != instance:
            loss = Loss.OTHER_HOLDER
        else:
            loss = Loss.EXPIRED
        return Judgement(held=False, loss=loss, holder=latest.instance if live else None,
                         own_last=own[-1] if own else None)

    def spans(self, ref: Reference) -> list[dict[str, Any]]:
        """Consecutive writes of one holder as spans (each to its key's expiry or the next holder's write)."""
        spans: list[dict[str, Any]] = []
        current: list[StoredWrite] = []

        def close(next_ns: int | None) -> None:
            if current:
                first, last = current[0], current[-1]
                expiry = last.received_ns + self.ttl_ns
                end = expiry if next_ns is None else min(expiry, next_ns)
                spans.append({"instance": first.instance, "epoch": last.epoch, "writes": len(current),
                              "from": ref.instant(first.received_ns),
                              "last_write": ref.instant(last.received_ns),
                              "to": ref.instant(end), "expired": end == expiry})
            current.clear()

        for write in self.writes:
            if write.op is LeaseOperation.PUT and current and current[-1].instance == write.instance:
                current.append(write)
                continue
            close(write.received_ns)
            if write.op is LeaseOperation.PUT:
                current.append(write)
            else:
                spans.append({"deleted": write.op.value, "at": ref.instant(write.received_ns)})
        close(None)
        return spans[:MAX_LISTED_SPANS]

    def describe(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "key": LEASE_KEY, "ttl_s": self.ttl_ns / 1e9,
                "writes": len(self.writes)}


def _declared(ops: Sequence[Op]) -> LeaseDeclaration | None:
    start = next((op for op in ops if op.kind == OpKind.RUN and op.f == "start"), None)
    declared = None if start is None else start.value.get("lease")
    return None if declared is None else parse_value(LeaseDeclaration, declared, "the run start's lease")


def lease_log(ops: Sequence[Op]) -> LeaseLog | None:
    """The lease key's writes in the declared bucket (else the one recorded), or ``None`` when no
    write of the key was recorded or no TTL is known."""
    recorded = [(parse(LeaseWrite, op), op) for op in ops
                if op.kind == OpKind.SUT and op.f == LEASE_F and op.type == OpType.INFO]
    declared = _declared(ops)
    bucket = declared.bucket if declared is not None else next((w.bucket for w, _ in recorded), None)
    mine = sorted(((write, op) for write, op in recorded
                   if write.bucket == bucket and write.key == LEASE_KEY),
                  key=lambda pair: (pair[1].t_ns, pair[1].index))
    ttl_s = declared.ttl_s if declared is not None else next((w.ttl_s for w, _ in mine if w.ttl_s), None)
    if bucket is None or ttl_s is None or not mine:
        return None
    writes = tuple(StoredWrite(op=write.op, instance=write.instance, epoch=write.epoch, sent_ns=write.t_ns,
                               received_ns=op.t_ns, revision=write.revision) for write, op in mine)
    return LeaseLog(bucket=bucket, ttl_ns=round(ttl_s * 1e9), writes=writes)
