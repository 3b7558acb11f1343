"""Which feed the OMS trades on (trading_stack.market_data.selector): health, failover and back,
divergence and the executions that decide it, and the defects. Pure: a fake clock drives it."""

from __future__ import annotations

from trading_stack.market_data.config import MarketDataConfig
from trading_stack.market_data.evidence import ExecutionEvidence, contradicts
from trading_stack.market_data.feed_state import FeedState
from trading_stack.market_data.messages import Heartbeat, QuoteFrame
from trading_stack.market_data.selector import FeedHealth, FeedSelector, Selection
from trading_stack.models import Side

MS = 1_000_000
FEEDS = {"A": "ws://127.0.0.1:1/md", "B": "ws://127.0.0.1:2/md"}
CONFIG = MarketDataConfig(feeds=FEEDS, symbols=("BTC-USD",))


class Feeds:
    """Two feeds, a selector and the executions, on a clock the test moves."""

    def __init__(self, config: MarketDataConfig = CONFIG, **options: bool) -> None:
        self.config = config
        self.now = 0
        self.states = {name: FeedState(name, config.symbols) for name in config.feeds}
        self.seq = dict.fromkeys(config.feeds, 0)
        self.evidence = ExecutionEvidence(config.divergence_bp, config.reference_window_ms * MS)
        self.selector = FeedSelector(config, 0, **options)
        for state in self.states.values():
            state.on_connected()

    def quote(self, feed: str, mid: float, *, snapshot: bool = False) -> None:
        self.seq[feed] += 1
        bid, ask = round(mid - 0.01, 2), round(mid + 0.01, 2)
        frame = QuoteFrame(snapshot, self.seq[feed], None, "BTC-USD", bid, ask, mid)
        self.states[feed].on_frame(frame, self.now)

    def run(self, ms: int, mids: dict[str, float] | None = None, step_ms: int = 50,
            drift: float = 0.01) -> Selection:
        """``ms`` of updates every ``step_ms`` from the feeds in ``mids`` (each moving by ``drift``)."""
        mids = dict.fromkeys(self.states, 100.0) if mids is None else dict(mids)
        selection = self.evaluate()
        for _ in range(ms // step_ms):
            self.now += step_ms * MS
            for feed in mids:
                mids[feed] += drift
                self.quote(feed, mids[feed])
            selection = self.evaluate()
        return selection

    def evaluate(self) -> Selection:
        return self.selector.evaluate(self.states, self.evidence, self.now)

    def fill(self, side: Side, price: float) -> None:
        self.evidence.record("BTC-USD", side, price, self.now)


def test_the_primary_is_selected_and_kept_while_healthy() -> None:
    feeds = Feeds()
    selection = feeds.run(1000)
    assert (selection.feed, selection.usable) == ("A", ("A", "B"))
    assert selection.statuses["A"].health is FeedHealth.HEALTHY
    assert selection.statuses["A"].age_ms == 0


def test_a_stalled_primary_fails_over_once_older_than_the_limit_and_comes_back_after_the_hold() -> None:
    feeds = Feeds()
    feeds.run(500)
    before = feeds.run(1500, {"B": 100.0})  # A sends nothing for 1.5 s: at the limit, not beyond
    assert before.feed == "A"
    switched = feeds.run(50, {"B": 100.0})
    assert (switched.feed, switched.previous, switched.switched) == ("B", "A", True)
    assert switched.statuses["A"].health is FeedHealth.STALE
    assert switched.reason.startswith("A stale: no message for 1550.0 ms")

    feeds.run(4950)  # A is back: healthy for 4.95 s, less than switch_back_after_ms
    assert feeds.evaluate().feed == "B"
    back = feeds.run(100)
    assert (back.feed, back.reason) == ("A", "back to A: usable for 5000.0 ms")


def test_a_primary_that_flaps_does_not_drag_the_flow_back_and_forth() -> None:
    feeds = Feeds()
    feeds.run(500)
    feeds.run(1600, {"B": 100.0})
    for _ in range(3):  # 3 s up, 1.6 s down
        assert feeds.run(3000).feed == "B"
        assert feeds.run(1600, {"B": 100.0}).feed == "B"


def test_a_feed_whose_prices_froze_while_its_seq_advances_is_left() -> None:
    feeds = Feeds()
    feeds.run(500)
    mids = {"A": 100.0, "B": 100.0}
    for _ in range(40):  # A repeats its last prices (seq and age fine), B moves
        feeds.now += 50 * MS
        feeds.quote("A", mids["A"])
        mids["B"] += 0.01
        feeds.quote("B", mids["B"])
        selection = feeds.evaluate()
    assert selection.feed == "B"
    assert selection.statuses["A"].health is FeedHealth.FROZEN
    assert selection.statuses["A"].age_ms == 0.0  # fresh by age: only the prices say it is dead


def test_one_symbol_frozen_is_caught_while_the_feeds_other_symbols_move() -> None:
    config = MarketDataConfig(feeds=FEEDS, symbols=("BTC-USD", "ETH-USD"))
    states = {name: FeedState(name, config.symbols) for name in FEEDS}
    selector = FeedSelector(config, 0)
    evidence = ExecutionEvidence(config.divergence_bp, config.reference_window_ms * MS)
    for state in states.values():
        state.on_connected()
    for step in range(1, 41):
        now = step * 50 * MS
        for name, state in states.items():
            btc = 100.0 if name == "A" else 100.0 + step * 0.01  # A's BTC-USD stuck where it was
            eth = 10.0 + step * 0.01
            state.on_frame(QuoteFrame(False, 2 * step - 1, None, "BTC-USD", btc - .01, btc + .01, None), now)
            state.on_frame(QuoteFrame(False, 2 * step, None, "ETH-USD", eth - 0.01, eth + 0.01, None), now)
        selection = selector.evaluate(states, evidence, now)
    assert selection.feed == "B"
    assert selection.statuses["A"].health is FeedHealth.FROZEN
    assert (selection.statuses["A"].reason or "").startswith("BTC-USD prices unchanged")


def test_a_feed_catching_up_after_a_stall_does_not_make_the_other_look_frozen() -> None:
    feeds = Feeds()
    feeds.run(500, drift=0.0)  # both at 100.0
    feeds.run(400, {"B": 100.0}, drift=0.0)  # A stalls (its last quote says 100.0, the market's then)
    feeds.run(50, {"B": 100.0}, drift=0.1)  # the market moves 10 bp while A is silent: B shows it
    # A is back at the market's price, which then stands still: B's price does not change for 2 s while
    # A's moved 10 bp from the quote it had before B's change (the stall's, not the market's since)
    selection = feeds.run(2000, {"A": 100.1, "B": 100.1}, drift=0.0)
    assert selection.statuses["B"].health is FeedHealth.HEALTHY, selection.statuses["B"].reason
    assert selection.usable == ("A", "B")


def test_both_feeds_still_in_a_quiet_market_are_not_frozen() -> None:
    feeds = Feeds()
    selection = feeds.run(3000, drift=0.0)
    assert selection.usable == ("A", "B")


def test_an_unrecovered_gap_and_a_crossed_book_make_a_feed_unusable() -> None:
    feeds = Feeds()
    feeds.run(500)
    feeds.seq["A"] += 5  # updates lost (seen with the next one, at 550 ms); the snapshot never comes
    feeds.run(500)
    assert feeds.evaluate().feed == "A"  # 450 ms: within gap_recovery_ms
    gapped = feeds.run(100)
    assert (gapped.feed, gapped.statuses["A"].health) == ("B", FeedHealth.GAPPED)

    feeds = Feeds()
    feeds.run(500)
    feeds.seq["A"] += 1
    crossed_frame = QuoteFrame(False, feeds.seq["A"], None, "BTC-USD", 101.0, 100.0, None)
    feeds.states["A"].on_frame(crossed_frame, feeds.now)
    crossed = feeds.evaluate()
    assert (crossed.feed, crossed.statuses["A"].health) == ("B", FeedHealth.CROSSED)


def test_a_divergence_no_execution_decides_suspends_the_symbol_on_both_feeds() -> None:
    feeds = Feeds()
    feeds.run(500)
    selection = feeds.run(100, {"A": 100.0, "B": 100.3})  # 30 bp apart
    assert selection.feed == "A"
    assert list(selection.suspended) == ["BTC-USD"]
    assert "no execution" in selection.suspended["BTC-USD"]
    assert feeds.run(100, {"A": 100.0, "B": 100.2}).suspended == {}  # 20 bp: within the threshold


def test_an_execution_that_contradicts_one_feed_fails_over_to_the_other_until_it_agrees_again() -> None:
    feeds = Feeds()
    feeds.run(500)
    feeds.run(100, {"A": 103.0, "B": 100.0})  # A drifted 300 bp up
    feeds.fill(Side.BUY, 100.5)  # the venue sold at 100.5: its ask was no higher
    assert feeds.evaluate().suspended != {}  # judged by the feeds' next quotes, not by older ones
    judged = feeds.run(100, {"A": 103.0, "B": 100.0})
    assert (judged.feed, judged.suspended) == ("B", {})
    assert judged.statuses["A"].health is FeedHealth.DIVERGED
    assert feeds.run(3000, {"A": 103.0, "B": 100.0}).feed == "B"  # stays judged after the evidence ages
    feeds.run(5100)  # A agrees again, and is usable for the hold
    assert feeds.evaluate().feed == "A"


def test_an_execution_is_held_against_quotes_from_after_it_not_before() -> None:
    feeds = Feeds()
    feeds.run(500)
    feeds.run(100, {"A": 103.0, "B": 100.0})
    feeds.fill(Side.BUY, 99.0)  # the venue moved: B's quote from before the fill says 100.0
    feeds.run(100, {"A": 102.0, "B": 99.0})  # B's next quote has caught up; A is still 3 % out
    assert feeds.evaluate().feed == "B"


def test_what_an_execution_proves_is_one_sided() -> None:
    assert contradicts(Side.BUY, 100.0, 100.3, 25)  # a buy at 100: the ask was at most 100
    assert not contradicts(Side.BUY, 100.0, 97.0, 25)  # a marketable limit may fill far through
    assert contradicts(Side.SELL, 100.0, 99.7, 25)
    assert not contradicts(Side.SELL, 100.0, 103.0, 25)


def test_defect_no_feed_failover_stays_on_a_dead_primary() -> None:
    feeds = Feeds(failover=False)
    feeds.run(500)
    selection = feeds.run(3000, {"B": 100.0})
    assert selection.feed == "A"
    assert selection.statuses["A"].health is FeedHealth.STALE
    assert selection.usable == ("B",)


def test_defect_no_divergence_check_trades_on_a_diverged_primary() -> None:
    feeds = Feeds(divergence_check=False)
    feeds.run(500)
    feeds.run(100, {"A": 103.0, "B": 100.0})
    feeds.fill(Side.BUY, 100.5)
    selection = feeds.run(100, {"A": 103.0, "B": 100.0})
    assert (selection.feed, selection.suspended, selection.usable) == ("A", {}, ("A", "B"))


def test_start_up_waits_for_the_primary_then_takes_what_there_is() -> None:
    feeds = Feeds()
    assert feeds.run(1000, {"B": 100.0}).feed is None
    selection = feeds.run(600, {"B": 100.0})
    assert selection.feed == "B"
    assert selection.reason.startswith("A connecting")


def test_with_nothing_usable_nothing_is_selected() -> None:
    feeds = Feeds()
    feeds.run(500)
    feeds.now += 1600 * MS
    selection = feeds.evaluate()
    assert (selection.feed, selection.usable) == (None, ())
    assert selection.reason.startswith("no usable feed: A stale")
    for name in ("A", "B"):  # heartbeats alone do not keep the quotes alive without confirmation
        feeds.states[name].on_frame(Heartbeat(feeds.seq[name], None), feeds.now)
    assert feeds.evaluate().usable == ("A", "B")
