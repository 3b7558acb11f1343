"""Index of open orders by symbol and price, so a matching step visits only marketable ones.

Limit orders sit in a heap per symbol and side (best price first); market orders in a list
per symbol. Entries are removed lazily: an entry whose order is no longer open, or whose
price was replaced, is dropped when it comes to the top.
"""

from __future__ import annotations

import heapq
from collections import defaultdict

from mock_exchange.model import Order, Side

_Entry = tuple[float, int, str, Order]  # (sort price, received_ns, order_id, order)


class RestingOrders:
    def __init__(self) -> None:
        self._buys: defaultdict[str, list[_Entry]] = defaultdict(list)
        self._sells: defaultdict[str, list[_Entry]] = defaultdict(list)
        self._market: defaultdict[str, list[Order]] = defaultdict(list)

    def add(self, order: Order) -> None:
        """Index an open order (again after a replace changed its price)."""
        if order.price is None:
            self._market[order.symbol].append(order)
        elif order.side is Side.BUY:
            heapq.heappush(self._buys[order.symbol], (-order.price, order.received_ns, order.order_id, order))
        else:
            heapq.heappush(self._sells[order.symbol], (order.price, order.received_ns, order.order_id, order))

    def marketable(self, symbol: str, bid: float, ask: float) -> list[Order]:
        """Open orders that can trade at this quote, oldest first."""
        found: dict[str, Order] = {}
        market = [order for order in self._market.get(symbol, ()) if order.is_open]
        self._market[symbol] = market
        for order in market:
            found[order.order_id] = order
        for order in _pop_while(self._buys[symbol], -ask):
            found[order.order_id] = order
        for order in _pop_while(self._sells[symbol], bid):
            found[order.order_id] = order
        return sorted(found.values(), key=lambda order: (order.received_ns, order.order_id))


def _pop_while(heap: list[_Entry], limit: float) -> list[Order]:
    """Orders of live entries whose sort price is <= ``limit``; they stay in the heap."""
    live: list[_Entry] = []
    while heap and heap[0][0] <= limit:
        entry = heapq.heappop(heap)
        order = entry[3]
        if order.is_open and order.price is not None and abs(entry[0]) == order.price:
            live.append(entry)
    for entry in live:
        heapq.heappush(heap, entry)
    return [entry[3] for entry in live]
