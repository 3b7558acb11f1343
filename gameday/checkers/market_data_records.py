"""Typed views of the market-data evidence (issue 16) and the questions the feed checkers ask of it.

- the OMS's events ``oms.feeds`` (feed health, the selected feed, switches, the breaker) and
  ``oms.pricing`` (one per client order priced: the feed, its seq, bid/ask, the quote's age);
- the venue's ledger (``market_data``: what each feed published per 100 ms, ``md`` lines, and the
  truth, ``price`` lines; its ``faults`` arm/heal lines);
- the harness's fault ops (exchange feed faults, network faults on a feed hop ``<oms>->feed-<x>``);
- the OMS's market-data limits as the run recorded them (its start op's ``market_data``).

Tolerant readers, like :mod:`gameday.checkers.records`: unknown fields are ignored, a needed field
missing raises :class:`~gameday.errors.CheckerError` (graded ``unknown``).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from gameday.checkers.evidence import last_op
from gameday.checkers.records import SutEvent, parse
from gameday.history import Op, OpKind, OpType

__all__ = [
    "ALL_FEEDS",
    "FeedFault",
    "FeedView",
    "FeedsEvent",
    "MarketDataLedger",
    "MarketDataLimits",
    "PricingEvent",
    "feed_faults",
    "market_data_ledger",
]

ALL_FEEDS = "*"
FEED_HOP = "->feed-"


class _Recorded(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FeedView(_Recorded):
    health: str
    reason: str | None = None
    age_ms: float | None = None
    quote_age_ms: float | None = None


class FeedsEvent(SutEvent):
    """One ``<prefix>.feeds`` event of an OMS instance."""

    instance: str
    selected: str | None = None
    previous: str | None = None
    switch: bool = False
    reason: str = ""
    breaker: str = "armed"
    heartbeat: bool = False
    feeds: dict[str, FeedView] = {}


class PricingEvent(SutEvent):
    """One ``<prefix>.pricing`` event: a client order priced off ``feed``'s quote ``seq``."""

    instance: str
    order_id: str | None = None
    status: int | None = None
    symbol: str
    side: str
    client_type: str = "market"
    price: float | None = None
    feed: str
    seq: int
    bid: float
    ask: float
    quote_age_ms: float | None = None

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


class MarketDataLimits(_Recorded):
    """The OMS's limits the run recorded (``stack.market_data``): what "stale" and "diverged" mean."""

    feeds: list[str] = []
    max_feed_age_ms: int = 1500
    divergence_bp: float = 25.0


class MdLine(_Recorded):
    kind: Literal["md"]
    t_ns: int
    feed: str
    symbol: str
    seq_first: int
    seq_last: int


class PriceLine(_Recorded):
    kind: Literal["price"]
    t_ns: int
    symbol: str
    mid: float


class VenueFaultLine(_Recorded):
    t_ns: int
    fault: str
    action: str


class _LedgerMarketData(_Recorded):
    market_data: list[dict[str, Any]] = []
    faults: list[VenueFaultLine] = []


@dataclass(frozen=True)
class MarketDataLedger:
    """The ledger's feeds and truth, indexed for "when was seq published" and "what was the truth then"."""

    published: dict[tuple[str, str], list[MdLine]]
    """(feed, symbol) -> its md lines by seq"""
    truth: dict[str, list[PriceLine]]
    """symbol -> its price lines by time"""
    faults: list[VenueFaultLine]

    @property
    def feeds(self) -> list[str]:
        return sorted({feed for feed, _ in self.published})

    def published_ns(self, feed: str, symbol: str, seq: int) -> int | None:
        """When the feed published ``symbol``'s update ``seq`` (the 100 ms line holding it, else the last
        line before it: a snapshot repeats the last update's prices); None when nothing is recorded."""
        lines = self.published.get((feed, symbol), [])
        index = bisect.bisect_right([line.seq_first for line in lines], seq)
        return lines[index - 1].t_ns if index else None

    def true_mid(self, symbol: str, t_ns: int) -> float | None:
        """The venue's mid at ``t_ns`` (its last price line at or before, else the first one)."""
        lines = self.truth.get(symbol, [])
        if not lines:
            return None
        index = bisect.bisect_right([line.t_ns for line in lines], t_ns)
        return lines[max(index - 1, 0)].mid

    def armed_ns(self, kind: str, after_ns: int) -> int | None:
        """The venue's arm line of ``kind`` at or after ``after_ns`` (the fault op's invoke)."""
        return next((line.t_ns for line in sorted(self.faults, key=lambda line: line.t_ns)
                     if line.fault == kind and line.action == "arm" and line.t_ns >= after_ns), None)


def market_data_ledger(ops: Sequence[Op]) -> MarketDataLedger | None:
    """The last ledger snapshot's market data, or None when there is no snapshot or it has none."""
    op = last_op(ops, OpKind.LEDGER, "snapshot")
    if op is None:
        return None
    snapshot = parse(_LedgerMarketData, op)
    if not snapshot.market_data:
        return None
    published: dict[tuple[str, str], list[MdLine]] = defaultdict(list)
    truth: dict[str, list[PriceLine]] = defaultdict(list)
    for line in snapshot.market_data:
        if line.get("kind") == "md":
            md = MdLine.model_validate(line)
            published[(md.feed, md.symbol)].append(md)
        elif line.get("kind") == "price":
            price = PriceLine.model_validate(line)
            truth[price.symbol].append(price)
    for lines in published.values():
        lines.sort(key=lambda line: line.seq_first)
    for prices in truth.values():
        prices.sort(key=lambda line: line.t_ns)
    return MarketDataLedger(dict(published), dict(truth), snapshot.faults)


@dataclass(frozen=True)
class FeedFault:
    """A fault the harness applied to a feed: on the venue (``exchange`` ``feed_*``) or on a feed hop."""

    fault_id: str
    what: str
    """``feed_stall`` / ``latency`` ..."""
    feed: str
    """the feed's name (``A``), or ``*``: every feed"""
    instance: str | None
    """the OMS whose hop it is (None: the venue's, every OMS's)"""
    start_ns: int
    invoked_ns: int
    heal_ns: int | None

    def covers(self, feed: str) -> bool:
        return self.feed in (feed, ALL_FEEDS)

    def describe(self) -> dict[str, Any]:
        return {"fault_id": self.fault_id, "fault": self.what, "feed": self.feed, "instance": self.instance}


def _feed_of(op: Op) -> tuple[str, str, str | None] | None:
    """(what, feed, instance) of a fault op on a feed, else None."""
    value = op.value
    if op.f == "exchange":
        kind, params = value.get("kind"), value.get("params") or {}
        if isinstance(kind, str) and kind.startswith("feed_") and isinstance(params.get("feed"), str):
            return kind, str(params["feed"]), None
        return None
    proxy = value.get("proxy")
    if isinstance(proxy, str) and FEED_HOP in proxy:
        instance, _, hop = proxy.partition("->")
        return op.f, hop.removeprefix("feed-").upper(), instance.strip()
    return None


def feed_faults(ops: Sequence[Op], ledger: MarketDataLedger | None) -> list[FeedFault]:
    """The feed faults applied, earliest first (a venue fault from its arm line, when the ledger has it)."""
    invoked: dict[str, int] = {}
    heals: dict[str, int] = {}
    applied: list[tuple[Op, tuple[str, str, str | None]]] = []
    for op in ops:
        if op.kind != OpKind.FAULT:
            continue
        fault_id = str(op.value.get("fault_id", ""))
        if op.type == OpType.INVOKE and op.f != "heal":
            invoked.setdefault(fault_id, op.t_ns)
        elif op.type == OpType.OK and op.f == "heal":
            heals.setdefault(fault_id, op.t_ns)
        elif op.type == OpType.OK and (found := _feed_of(op)) is not None:
            applied.append((op, found))
    faults = []
    for op, (what, feed, instance) in applied:
        fault_id = str(op.value.get("fault_id", ""))
        start = invoked.get(fault_id, op.t_ns)
        armed = ledger.armed_ns(what, start) if ledger is not None and instance is None else None
        faults.append(FeedFault(fault_id, what, feed, instance, armed if armed is not None else op.t_ns,
                                start, heals.get(fault_id)))
    return sorted(faults, key=lambda fault: fault.start_ns)
