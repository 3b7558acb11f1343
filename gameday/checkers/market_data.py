"""Market-data checkers (issue 16; seeds 001/003: "how long to switch feeds", never trade on bad prices,
a breaker on "severe market data feed disruptions").

- ``feeds.switch_time``: from the first fault on the feed the OMS was trading on (the venue's arm
  line of an ``exchange`` feed fault, else the fault op) to the trading instance's ``oms.feeds``
  event selecting another feed, confirmed by an order priced off another feed (``oms.pricing``);
  unbounded when no order was ever priced off another feed after it.
- ``orders.priced_off_bad_data``: orders priced off a quote that was stale (published, per the
  ledger's ``md`` lines, longer than the OMS's ``max_feed_age_ms`` before the pricing, beyond the
  ledger's 100 ms resolution) or diverged
  (its mid further than ``divergence_bp`` from the ledger's true mid when it was published).
- ``feeds.time_to_halt``: from the instant every feed was faulted (total feed loss) to the OMS's
  ``BreakerTripped`` alert with reason ``feed-loss``; unbounded when it never tripped.
- ``trading.resumed_after_feed_recovery``: 1 when an order was priced and accepted after the
  ``BreakerRearmed`` alert that followed a feed-loss trip, else 0.

The thresholds are the OMS's own, as the run recorded them (its start op's ``market_data``), so the
checker grades the stack against the promise it was configured to keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameday.checker_specs import (
    FEEDS_SWITCH_TIME,
    FEEDS_TIME_TO_HALT,
    ORDERS_PRICED_OFF_BAD_DATA,
    TRADING_RESUMED_AFTER_FEED_RECOVERY,
)
from gameday.checkers.base import Observation, Specified
from gameday.checkers.deploy_records import elapsed, run_start_field
from gameday.checkers.market_data_records import (
    ALL_FEEDS,
    FeedFault,
    FeedsEvent,
    MarketDataLedger,
    MarketDataLimits,
    PricingEvent,
    feed_faults,
    market_data_ledger,
)
from gameday.checkers.records import AlertEvent, reference, sut_events
from gameday.history import Op

__all__ = ["FeedSwitchTime", "FeedTimeToHalt", "PricedOffBadData", "TradingResumedAfterFeedRecovery",
           "market_data_checkers"]

FEED_LOSS = "feed-loss"
BREAKER_TRIPPED = "BreakerTripped"
BREAKER_REARMED = "BreakerRearmed"
MAX_LISTED = 10
ACCEPTED = 201
LEDGER_RESOLUTION_MS = 100.0
"""The ledger knows when a feed published an update to within one 100 ms line: a quote is proven
stale only when it was published longer than the limit plus this before the order was priced (an OMS
ages quotes from their receipt, which is later than their publication by the transport)."""


def _trading_feed(pricing: Sequence[PricingEvent], t_ns: int) -> PricingEvent | None:
    """The last order priced at or before ``t_ns``: which instance traded, on which feed."""
    before = [event for event in pricing if event.t_ns <= t_ns]
    return before[-1] if before else None


class FeedSwitchTime(Specified):
    spec = FEEDS_SWITCH_TIME
    description = "fault on the feed the OMS trades on -> the trading instance selects another feed"

    def check(self, ops: Sequence[Op]) -> Observation:
        pricing = sut_events(ops, "pricing", PricingEvent)
        if not pricing:
            return Observation.absent(self.unit, "no oms.pricing events: the OMS priced no order off a feed")
        ledger = market_data_ledger(ops)
        anchor: tuple[FeedFault, PricingEvent] | None = None
        for fault in feed_faults(ops, ledger):
            before = _trading_feed(pricing, fault.start_ns)
            if before is not None and fault.feed != ALL_FEEDS and fault.covers(before.feed) and \
                    fault.instance in (None, before.instance):
                anchor = (fault, before)
                break
        if anchor is None:
            return Observation.absent(self.unit, "no fault hit the one feed the OMS was trading on "
                                                 "(a fault on every feed is a total loss, not a switch)")
        fault, before = anchor
        ref = reference(ops)
        evidence: dict[str, Any] = {"reference": ref.describe(), "fault": {**fault.describe(),
                                                                           **ref.instant(fault.start_ns)},
                                    "trading_before": {"instance": before.instance, "feed": before.feed}}
        moved = next((event for event in pricing
                      if event.t_ns > fault.start_ns and event.feed != fault.feed), None)
        if moved is None:
            return elapsed(fault.start_ns, None, evidence, done="",
                           never=f"no order was priced off a feed other than {fault.feed} after the fault")
        evidence["first_priced_elsewhere"] = {"instance": moved.instance, "feed": moved.feed,
                                              "order_id": moved.order_id, **ref.instant(moved.t_ns)}
        switches = [event for event in sut_events(ops, "feeds", FeedsEvent)
                    if event.instance == moved.instance and fault.start_ns < event.t_ns <= moved.t_ns
                    and event.selected == moved.feed]
        switched_ns = switches[0].t_ns if switches else moved.t_ns
        if switches:
            evidence["switch"] = {"instance": moved.instance, "previous": switches[0].previous,
                                  "selected": switches[0].selected, "reason": switches[0].reason,
                                  **ref.instant(switched_ns)}
        source = "its oms.feeds switch" if switches else \
            "its first order priced there (no oms.feeds switch seen)"
        return elapsed(fault.start_ns, switched_ns, evidence,
                       done=f"{moved.instance} on {moved.feed} {{took}}s after the fault on {fault.feed} "
                            f"({source})", never="")


def _bad(event: PricingEvent, ledger: MarketDataLedger, limits: MarketDataLimits) -> dict[str, Any] | None:
    """Why ``event``'s quote was bad data, or None (also when the ledger cannot tell)."""
    published = ledger.published_ns(event.feed, event.symbol, event.seq)
    if published is None:
        return None
    age_ms = (event.t_ns - published) / 1e6
    true_mid = ledger.true_mid(event.symbol, published)
    off_bp = None if true_mid is None else abs(event.mid - true_mid) / true_mid * 10_000
    stale = age_ms > limits.max_feed_age_ms + LEDGER_RESOLUTION_MS
    diverged = off_bp is not None and off_bp > limits.divergence_bp
    if not stale and not diverged:
        return None
    return {"order_id": event.order_id, "instance": event.instance, "symbol": event.symbol,
            "feed": event.feed, "seq": event.seq, "published_age_ms": round(age_ms, 1),
            "quote_mid": event.mid,
            "true_mid": true_mid, "off_bp": None if off_bp is None else round(off_bp, 1),
            "why": " and ".join(word for word, hit in (("stale", stale), ("diverged", diverged)) if hit)}


class PricedOffBadData(Specified):
    spec = ORDERS_PRICED_OFF_BAD_DATA
    description = "orders priced off a quote older than the OMS's limit or off the truth beyond its threshold"

    def check(self, ops: Sequence[Op]) -> Observation:
        limits = run_start_field(ops, "market_data", MarketDataLimits)
        if limits is None:
            return Observation.absent(self.unit, "the run start op records no market_data limits "
                                                 "(the stack consumes no feeds)")
        ledger = market_data_ledger(ops)
        if ledger is None:
            return Observation.absent(self.unit, "no ledger snapshot with the feeds' market_data lines")
        pricing = sut_events(ops, "pricing", PricingEvent)
        sent = [event for event in pricing if event.status is None or event.status < 500]
        bad = [found for event in sent if (found := _bad(event, ledger, limits)) is not None]
        unplaced = sum(1 for event in sent
                       if ledger.published_ns(event.feed, event.symbol, event.seq) is None)
        return Observation(
            value=len(bad), unit=self.unit,
            evidence={"limits": limits.model_dump(), "priced": len(sent), "not_in_ledger": unplaced,
                      "bad": bad[:MAX_LISTED]},
            note=f"{len(bad)} of {len(sent)} orders priced off bad data"
            + (f" ({', '.join(sorted({b['why'] for b in bad}))})" if bad else ""),
        )


def _total_loss(faults: Sequence[FeedFault], feeds: Sequence[str]) -> tuple[int, list[FeedFault]] | None:
    """The first instant every feed had a venue fault armed, and those faults."""
    for index, fault in enumerate(faults):
        if fault.instance is not None:
            continue
        live = [other for other in faults[:index + 1] if other.instance is None
                and (other.heal_ns is None or other.heal_ns > fault.start_ns)]
        if any(other.feed == ALL_FEEDS for other in live) or (feeds and all(
                any(other.covers(feed) for other in live) for feed in feeds)):
            return fault.start_ns, live
    return None


def _feed_loss_alerts(ops: Sequence[Op], alert: str, after_ns: int) -> list[AlertEvent]:
    return [event for event in sut_events(ops, "alerts", AlertEvent)
            if event.alert == alert and event.t_ns >= after_ns
            and event.detail.get("reason", FEED_LOSS) == FEED_LOSS]


class FeedTimeToHalt(Specified):
    spec = FEEDS_TIME_TO_HALT
    description = "every feed faulted (total feed loss) -> the OMS's feed-loss BreakerTripped alert"

    def check(self, ops: Sequence[Op]) -> Observation:
        ledger = market_data_ledger(ops)
        limits = run_start_field(ops, "market_data", MarketDataLimits)
        feeds = (limits.feeds if limits is not None else []) or (ledger.feeds if ledger is not None else [])
        loss = _total_loss(feed_faults(ops, ledger), feeds)
        if loss is None:
            return Observation.absent(self.unit, "no instant had a fault on every feed: no total feed loss")
        start_ns, faults = loss
        ref = reference(ops)
        evidence: dict[str, Any] = {"reference": ref.describe(), "feeds": feeds,
                                    "loss": {"faults": [fault.describe() for fault in faults],
                                             **ref.instant(start_ns)}}
        trips = _feed_loss_alerts(ops, BREAKER_TRIPPED, start_ns)
        if not trips:
            return elapsed(start_ns, None, evidence, done="",
                           never="no feed-loss BreakerTripped alert after the total feed loss")
        trip = trips[0]
        evidence["trip"] = {"instance": trip.instance, "detail": trip.detail.get("detail"),
                            **ref.instant(trip.t_ns)}
        return elapsed(start_ns, trip.t_ns, evidence, done=f"{trip.instance} halted {{took}}s after every "
                                                           "feed was lost", never="")


class TradingResumedAfterFeedRecovery(Specified):
    spec = TRADING_RESUMED_AFTER_FEED_RECOVERY
    description = "1 when an order was priced and accepted after the feed breaker's re-arm, else 0"

    def check(self, ops: Sequence[Op]) -> Observation:
        trips = _feed_loss_alerts(ops, BREAKER_TRIPPED, 0)
        if not trips:
            return Observation.absent(self.unit, "no feed-loss BreakerTripped alert: nothing to resume from")
        ref = reference(ops)
        evidence: dict[str, Any] = {"reference": ref.describe(),
                                    "trip": {"instance": trips[0].instance, **ref.instant(trips[0].t_ns)}}
        rearms = _feed_loss_alerts(ops, BREAKER_REARMED, trips[0].t_ns)
        if not rearms:
            return Observation(value=0, unit=self.unit, evidence=evidence,
                               note="the feed breaker was never re-armed after its trip")
        rearm = rearms[0]
        evidence["rearm"] = {"instance": rearm.instance, "operator": rearm.detail.get("operator"),
                             **ref.instant(rearm.t_ns)}
        resumed = next((event for event in sut_events(ops, "pricing", PricingEvent)
                        if event.t_ns > rearm.t_ns and event.status == ACCEPTED), None)
        if resumed is None:
            return Observation(value=0, unit=self.unit, evidence=evidence,
                               note="no order was priced and accepted after the re-arm")
        evidence["first_order"] = {"instance": resumed.instance, "feed": resumed.feed,
                                   "order_id": resumed.order_id, **ref.instant(resumed.t_ns)}
        waited = (resumed.t_ns - rearm.t_ns) / 1e9
        return Observation(value=1, unit=self.unit, evidence=evidence,
                           note=f"trading resumed on {resumed.feed} {waited:.3f}s after the re-arm")


def market_data_checkers() -> tuple[FeedSwitchTime, PricedOffBadData, FeedTimeToHalt,
                                    TradingResumedAfterFeedRecovery]:
    return FeedSwitchTime(), PricedOffBadData(), FeedTimeToHalt(), TradingResumedAfterFeedRecovery()
