"""The cost of the venue's rate-limit bans, read off its ledger (seeds 001 and 003: API bans).

A venue that bans a session for going beyond its order rate limit writes a ``ban`` line (the
session, when, until when: docs/contracts.md §3), and ``GET /ledger`` lists them under ``bans``.
Three quantities grade what a ban cost the firm:

- ``venue.bans``: how many bans the venue imposed;
- ``venue.banned_s``: for how long, in all, some session of the firm could not trade (overlapping
  bans counted once; a ban still running when the ledger was read, up to then);
- ``venue.ban_refusals``: new orders the venue refused from a session while it was banned.

A ledger without ``bans`` (a venue that does not report them) grades ``unknown``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, ValidationError

from gameday.checker_specs import VENUE_BAN_REFUSALS, VENUE_BANNED_S, VENUE_BANS
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import last_op
from gameday.errors import CheckerError
from gameday.history import Op, OpKind

__all__ = ["BanCount", "BanRefusals", "BannedSeconds", "LedgerBans", "ban_checkers", "merged_spans"]

NS_PER_S = 1_000_000_000
NO_BANS_REPORTED = "the venue's ledger reports no bans (no `bans` in GET /ledger)"


class _Recorded(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Ban(_Recorded):
    sender_comp_id: str
    t_ns: int
    until_ns: int


class RefusedOrder(_Recorded):
    sender_comp_id: str
    received_ns: int
    status: str


class LedgerBans(_Recorded):
    """The bans of the last ledger snapshot, the orders it holds, and when it was read."""

    bans: list[Ban]
    orders: list[RefusedOrder] = []
    now_ns: int | None = None

    def spans(self) -> list[tuple[int, int]]:
        """Each ban as (start, end), a running one ending when the ledger was read."""
        read_at = self.now_ns
        return [(ban.t_ns, ban.until_ns if read_at is None else max(ban.t_ns, min(ban.until_ns, read_at)))
                for ban in self.bans]

    def refused_while_banned(self) -> int:
        spans: dict[str, list[tuple[int, int]]] = {}
        for ban in self.bans:
            spans.setdefault(ban.sender_comp_id, []).append((ban.t_ns, ban.until_ns))
        return sum(1 for order in self.orders if order.status == "rejected" and any(
            start < order.received_ns < end for start, end in spans.get(order.sender_comp_id, ())))


def ledger_bans(ops: Sequence[Op]) -> LedgerBans | None:
    """The last ledger snapshot's bans, or ``None`` when there is no snapshot or it has no ``bans``."""
    op = last_op(ops, OpKind.LEDGER, "snapshot")
    if op is None or not isinstance(op.value, dict) or "bans" not in op.value:
        return None
    try:
        return LedgerBans.model_validate(op.value)
    except ValidationError as error:
        raise CheckerError(f"history op #{op.index} (ledger snapshot) has malformed bans: {error}") from error


def merged_spans(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` with overlapping or touching ones merged, in time order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _evidence(bans: LedgerBans) -> dict[str, object]:
    return {"bans": [ban.model_dump() for ban in bans.bans[:20]], "ban_count": len(bans.bans)}


class _BanChecker(Specified):
    """Reads the last ledger snapshot's bans; unknown when the ledger reports none."""

    description: str

    def check(self, ops: Sequence[Op]) -> Observation:
        bans = ledger_bans(ops)
        if bans is None:
            return Observation.absent(self.unit, NO_BANS_REPORTED)
        value, note = self.read(bans)
        return Observation(value=value, unit=self.unit, note=note, evidence=_evidence(bans))

    def read(self, bans: LedgerBans) -> tuple[float, str]:
        raise NotImplementedError


class BanCount(_BanChecker):
    spec = VENUE_BANS
    description = "rate-limit bans the venue imposed on the firm's sessions (its ledger)"

    def read(self, bans: LedgerBans) -> tuple[float, str]:
        sessions = sorted({ban.sender_comp_id for ban in bans.bans})
        return len(bans.bans), f"{len(bans.bans)} ban(s)" + (f" of {', '.join(sessions)}" if sessions else "")


class BannedSeconds(_BanChecker):
    spec = VENUE_BANNED_S
    description = "time some session of the firm was banned by the venue (overlaps counted once)"

    def read(self, bans: LedgerBans) -> tuple[float, str]:
        spans = merged_spans(bans.spans())
        seconds = round(sum(end - start for start, end in spans) / NS_PER_S, 3)
        return seconds, f"banned {seconds:g} s in {len(spans)} span(s)"


class BanRefusals(_BanChecker):
    spec = VENUE_BAN_REFUSALS
    description = "new orders the venue refused from a session while it was banned"

    def read(self, bans: LedgerBans) -> tuple[float, str]:
        refused = bans.refused_while_banned()
        return refused, f"{refused} order(s) refused while banned"


def ban_checkers() -> tuple[BanCount, BannedSeconds, BanRefusals]:
    return BanCount(), BannedSeconds(), BanRefusals()
