"""Matching: orders rest at the venue and fill against the seeded price process.

On every step each marketable open order (market, buy limit >= ask, sell limit <= bid) fills
with probability ``fill_probability`` a seeded random part of its leaves, at its limit price
(market orders: at the touch). IOC orders get one attempt on arrival; the rest is canceled.
A trade may be reported in pieces at several markets (:mod:`mock_exchange.trades`).

Exchange faults that are not FIX-specific live here, so every protocol gets them: halts,
reject-all, rate limits, market phases (with DAY expiry at the close) and cancel failures.
The engine knows nothing of FIX: it returns :class:`Execution` values to route.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection

from mock_exchange.config import VenueConfig
from mock_exchange.executions import (
    CancelOutcome,
    CancelRejection,
    CancelRejectReason,
    Execution,
    NewOrderRequest,
    OnCancelReleased,
    ReplaceRequest,
)
from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import CancelFailureMode, CountedRequest, Fault, FaultKind, PricePath
from mock_exchange.held_cancels import HeldCancel, HeldCancels
from mock_exchange.ledger import Ledger
from mock_exchange.market_clock import MarketClock, MarketPhase, refusal_text
from mock_exchange.market_status import MarketStatus
from mock_exchange.model import ExecType, Order, OrderStatus, OrdType, Side, TimeInForce, attribute_instance
from mock_exchange.order_rules import OrderRules
from mock_exchange.prices import PriceProcess, derive_seed
from mock_exchange.resting import RestingOrders
from mock_exchange.trades import TradeRecorder

__all__ = [
    "CancelRejectReason",
    "CancelRejection",
    "Execution",
    "MatchingEngine",
    "NewOrderRequest",
    "ReplaceRequest",
]

log = logging.getLogger(__name__)

DAY_EXPIRY_TEXT = "DAY order expired at the market close"


class MatchingEngine:
    """Orders, prices and fills of one venue; every change goes through the ledger first."""

    def __init__(self, config: VenueConfig, ledger: Ledger, *, faults: FaultBoard | None = None) -> None:
        self._ledger = ledger
        self._fill_probability = config.fill_probability
        self._rng = random.Random(derive_seed(config.seed, "fills"))
        self._trades = TradeRecorder.for_venue(config, ledger)
        self._max_price = ceiling = config.max_price
        self.prices = {sym.symbol: PriceProcess(sym, config.seed, ceiling=ceiling) for sym in config.symbols}
        self._rules = OrderRules(config, self.prices)
        self._failing_prices: set[str] = set()
        self.faults = faults if faults is not None else FaultBoard(
            seed=derive_seed(config.seed, "faults"), published_limit=config.order_rate_limit)
        self.faults.subscribe_bans(ledger.record_ban)
        self.faults.add_check(self._fault_problem)
        self.faults.subscribe(self._on_fault_change)
        self.market_status = MarketStatus.attached(self.prices, self.faults, ledger)  # halts, bands, replay
        self.market = MarketClock(config.market_clock) if config.market_clock is not None else None
        self._last_phase: MarketPhase | None = None
        self._held_cancels = HeldCancels()
        self._resting = RestingOrders()
        for order in ledger.open_orders.values():
            self._resting.add(order)

    @property
    def phase(self) -> MarketPhase:
        return self.market.phase() if self.market is not None else MarketPhase.OPEN

    # -- new orders ------------------------------------------------------------------------

    def submit(self, request: NewOrderRequest) -> list[Execution]:
        """Accept (or reject) a new order; IOC orders also get their one matching attempt."""
        now_ns = time.monotonic_ns()
        reject_text = self._refusal(request)
        order = Order(
            order_id=self._ledger.next_order_id(),
            cl_ord_id=request.cl_ord_id,
            sender_comp_id=request.sender_comp_id,
            sender_sub_id=request.sender_sub_id,
            instance=attribute_instance(request.sender_sub_id, request.cl_ord_id),
            symbol=request.symbol,
            side=request.side,
            ord_type=request.ord_type,
            tif=request.tif,
            price=request.price if request.ord_type is OrdType.LIMIT else None,
            qty=request.qty,
            received_ns=now_ns,
            status=OrderStatus.REJECTED if reject_text else OrderStatus.NEW,
        )
        order = self._ledger.record_order(order, text=reject_text)
        ack = order.events[-1]
        executions = [Execution(order, ack.exec_type, ack.exec_id, text=reject_text)]
        if not order.is_open:
            return executions
        if order.tif is TimeInForce.IOC:
            executions += self._try_fill(order)
            if order.is_open:
                executions.append(self._cancel(order, text="IOC remainder canceled"))
        else:
            self._resting.add(order)
        return executions

    def knows_cl_ord_id(self, cl_ord_id: str) -> bool:
        return self._ledger.order_by_cl_ord_id(cl_ord_id) is not None

    def find_order(self, cl_ord_id: str | None, order_id: str | None) -> Order | None:
        """An order by ClOrdID (any it had), else by OrderID."""
        order = self._ledger.order_by_cl_ord_id(cl_ord_id) if cl_ord_id else None
        if order is None and order_id:
            order = self._ledger.orders.get(order_id)
        return order

    def _refusal(self, request: NewOrderRequest) -> str | None:
        if self.market is None and not self.faults.questions_orders and not self.market_status.active:
            return self._rules.refusal(request.symbol, request.qty, request.ord_type, request.price)
        return (
            refusal_text(self.phase)
            or self.faults.order_refusal(request.sender_comp_id, request.symbol)
            or self.market_status.order_refusal(request.symbol, request.side, request.ord_type, request.price)
            or self._rules.refusal(request.symbol, request.qty, request.ord_type, request.price)
            or self.faults.admit(request.sender_comp_id, CountedRequest.NEW)
        )

    def _rate_limited(self, requested_by: str, request: CountedRequest, order: Order | None,
                      ) -> CancelRejection | None:
        """A cancel or replace beyond an armed rate limit that counts it, refused before anything else."""
        refusal = self.faults.admit(requested_by, request) if self.faults.armed else None
        return None if refusal is None else CancelRejection(CancelRejectReason.BROKER_OPTION, refusal, order)

    # -- cancels ---------------------------------------------------------------------------

    def cancel(
        self,
        orig_cl_ord_id: str,
        *,
        order_id: str | None,
        cancel_cl_ord_id: str,
        requested_by: str,
        on_release: OnCancelReleased | None = None,
    ) -> CancelOutcome | None:
        """Cancel an order of the firm by OrigClOrdID (or OrderID when that is all that matches).

        ``None`` means no answer now: a cancel-failure fault drops the request, or holds it
        until the fault is healed and then calls ``on_release`` with the outcome (or, with
        ``on_heal: drop``, never). A rate limit that counts cancels refuses it first.
        """
        order = self.find_order(orig_cl_ord_id, order_id)
        limited = self._rate_limited(requested_by, CountedRequest.CANCEL, order)
        if limited is not None:
            return limited
        return self._cancel_request(orig_cl_ord_id, order_id, cancel_cl_ord_id, requested_by, on_release)

    def _cancel_request(self, orig_cl_ord_id: str, order_id: str | None, cancel_cl_ord_id: str,
                        requested_by: str, on_release: OnCancelReleased | None) -> CancelOutcome | None:
        order = self.find_order(orig_cl_ord_id, order_id)
        failure = self.faults.cancel_failure(requested_by, order.symbol if order else "")
        if failure is not None and (order is not None or failure.symbol is None):
            if failure.mode is CancelFailureMode.REJECT:
                return CancelRejection(CancelRejectReason.BROKER_OPTION, failure.reason, order)
            if failure.mode is CancelFailureMode.HANG and on_release is not None:
                self._held_cancels.hold(HeldCancel(orig_cl_ord_id, order_id, cancel_cl_ord_id, requested_by,
                                                   on_release, failure.drops_held_cancels))
            return None
        if order is None:
            return CancelRejection(CancelRejectReason.UNKNOWN_ORDER, "unknown order", None)
        if not order.is_open:
            return CancelRejection(
                CancelRejectReason.TOO_LATE_TO_CANCEL, f"order already {order.status.value}", order
            )
        return self._cancel(
            order, text="canceled on request", cancel_cl_ord_id=cancel_cl_ord_id, requested_by=requested_by
        )

    def cancel_orders_of_session(self, sender_comp_id: str, *, text: str) -> list[Execution]:
        """Cancel every open order a session entered (cancel-on-disconnect)."""
        return self._cancel_where(lambda order: order.sender_comp_id == sender_comp_id, text=text)

    def mass_cancel(
        self, symbol: str | None, *, requested_by: str, owners: Collection[str] | None = None
    ) -> list[Execution]:
        """Cancel every open order (of the ``owners`` sessions when given; on ``symbol`` when given)."""
        return self._cancel_where(
            lambda order: (
                (symbol is None or order.symbol == symbol)
                and (owners is None or order.sender_comp_id in owners)
            ),
            text="canceled by mass cancel",
            requested_by=requested_by,
        )

    def _cancel_where(
        self,
        wanted: Callable[[Order], bool],
        *,
        text: str,
        requested_by: str | None = None,
        expired: bool = False,
    ) -> list[Execution]:
        return [
            self._cancel(order, text=text, requested_by=requested_by, expired=expired)
            for order in list(self._ledger.open_orders.values())
            if wanted(order)
        ]

    def _fault_problem(self, fault: Fault) -> str | None:
        if not isinstance(fault, PricePath):
            return None
        process = self.prices.get(fault.symbol)
        if process is None:
            return f"symbol: unknown symbol {fault.symbol!r}; known: {', '.join(self.prices)}"
        target = process.target_of(fault.move_pct)
        if target > self._max_price:
            return (
                f"move_pct: would take {fault.symbol} from {process.mid:g} to {target:g}, "
                f"above the venue's max_price {self._max_price:g}"
            )
        return None

    def _on_fault_change(self, kind: FaultKind, fault: Fault | None) -> None:
        self._ledger.record_fault(kind.value, fault.model_dump(mode="json") if fault else None)
        if kind is FaultKind.PRICE_PATH:
            for process in self.prices.values():
                process.release()
            if isinstance(fault, PricePath):
                self.prices[fault.symbol].follow(fault.move_pct, fault.over_s)
        if kind is FaultKind.CANCEL_FAILURE and self._held_cancels:
            # healed or replaced: each held cancel is processed against the failure armed now
            self._held_cancels.release(self._process_held)

    def _process_held(self, cancel: HeldCancel) -> CancelOutcome | None:
        return self._cancel_request(cancel.orig_cl_ord_id, cancel.order_id, cancel.cancel_cl_ord_id,
                                    cancel.requested_by, cancel.on_release)

    # -- replaces --------------------------------------------------------------------------

    def replace(self, request: ReplaceRequest) -> CancelOutcome:
        """Change an open order's quantity and/or price (its ClOrdID becomes the request's)."""
        order = self.find_order(request.orig_cl_ord_id, request.order_id)
        limited = self._rate_limited(request.requested_by, CountedRequest.REPLACE, order)
        if limited is not None:
            return limited
        if order is None:
            return CancelRejection(CancelRejectReason.UNKNOWN_ORDER, "unknown order", None)
        if not order.is_open:
            return CancelRejection(
                CancelRejectReason.TOO_LATE_TO_CANCEL, f"order already {order.status.value}", order
            )
        problem = self._rules.refusal(order.symbol, request.qty, order.ord_type, request.price)
        if problem is None and request.qty <= order.cum_qty:
            problem = f"OrderQty {request.qty} is not above the filled {order.cum_qty}"
        if problem is not None:
            return CancelRejection(CancelRejectReason.BROKER_OPTION, problem, order)
        orig_cl_ord_id = order.cl_ord_id
        event = self._ledger.record_replace(
            order,
            t_ns=time.monotonic_ns(),
            cl_ord_id=request.cl_ord_id,
            qty=request.qty,
            price=request.price if order.ord_type is OrdType.LIMIT else None,
            requested_by=request.requested_by,
        )
        if order.is_open:
            self._resting.add(order)
        return Execution(
            order,
            ExecType.REPLACED,
            event.exec_id,
            requested_by=request.requested_by,
            orig_cl_ord_id=orig_cl_ord_id,
        )

    # -- matching --------------------------------------------------------------------------

    def step(self) -> list[Execution]:
        """Move every price one step, then give each marketable open order its fill chance."""
        for process in self.prices.values():
            self._step_price(process)
        if self.market_status.active:
            self.market_status.step()
        phase = self.phase
        executions: list[Execution] = []
        if phase is MarketPhase.CLOSED and self._last_phase is not MarketPhase.CLOSED:
            executions += self._cancel_where(
                lambda order: order.tif is TimeInForce.DAY, text=DAY_EXPIRY_TEXT, expired=True
            )
        self._last_phase = phase
        if phase is not MarketPhase.OPEN:
            return executions
        faults = self.faults if self.faults.armed else None
        for symbol, process in self.prices.items():
            if not self.market_status.may_fill(symbol):
                continue
            quote = process.quote
            for order in self._resting.marketable(symbol, quote.bid, quote.ask):
                if faults is not None and faults.is_halted(symbol, order.sender_comp_id):
                    continue
                executions += self._try_fill(order)
        return executions

    def _step_price(self, process: PriceProcess) -> None:
        """One price step; one that fails keeps the last quote, and disarms a price path behind it."""
        try:
            process.step()
        except Exception as error:  # the bounds rule it out: never let one symbol stop matching
            if process.following:
                process.abandon()
                self.faults.disarm(FaultKind.PRICE_PATH, f"moving {process.symbol} failed: {error!r}")
            elif process.symbol not in self._failing_prices:
                log.exception("price step of %s failed; its quote stays where it was", process.symbol)
            self._failing_prices.add(process.symbol)
            return
        self._failing_prices.discard(process.symbol)

    def _try_fill(self, order: Order) -> list[Execution]:
        price = self._marketable_price(order)
        if price is None or self._rng.random() >= self._fill_probability:
            return []
        qty = self._rng.randint(1, order.leaves_qty)
        trades = self.market_status.trades or self._trades  # a replay may split them its own way
        if trades is not None:
            return trades.record(order, qty=qty, price=price, t_ns=time.monotonic_ns())
        fill = self._ledger.record_fill(order, qty=qty, price=price, t_ns=time.monotonic_ns())
        return [Execution(order, ExecType.TRADE, fill.exec_id, last_qty=qty, last_px=price)]

    def _marketable_price(self, order: Order) -> float | None:
        process = self.prices.get(order.symbol)
        if process is None:
            return None
        quote = process.quote
        if order.price is None:
            worse = self.faults.slippage_bps(order.sender_comp_id) / 10_000 if self.faults.armed else 0.0
            return quote.ask * (1 + worse) if order.side is Side.BUY else quote.bid * (1 - worse)
        if order.side is Side.BUY:
            return order.price if order.price >= quote.ask else None
        return order.price if order.price <= quote.bid else None

    def _cancel(
        self,
        order: Order,
        *,
        text: str,
        cancel_cl_ord_id: str | None = None,
        requested_by: str | None = None,
        expired: bool = False,
    ) -> Execution:
        event = self._ledger.record_cancel(
            order,
            t_ns=time.monotonic_ns(),
            text=text,
            cancel_cl_ord_id=cancel_cl_ord_id,
            requested_by=requested_by,
            expired=expired,
        )
        return Execution(
            order,
            ExecType.EXPIRED if expired else ExecType.CANCELED,
            event.exec_id,
            text=text,
            cancel_cl_ord_id=cancel_cl_ord_id,
            requested_by=requested_by,
        )
