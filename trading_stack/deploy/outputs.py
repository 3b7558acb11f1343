"""The per-event outputs OMS instances publish for the dark-launch verifier (docs/deploy.md §2.2).

The active instance publishes one :class:`OutputMessage` per fill it books on
``<prefix>.outputs``; a shadow on ``<prefix>.shadow.outputs``. Both are built by
:func:`output_for`, so the only thing that can differ between two instances is what their
builds booked.
"""

from __future__ import annotations

from trading_stack.deploy.positions import Position
from trading_stack.deploy.verifier import EventOutput
from trading_stack.deploy.versions import OmsVersion
from trading_stack.models import Fill, OrderStatus

__all__ = ["OUTPUTS_SUBJECT", "SHADOW_OUTPUTS_SUBJECT", "OutputMessage", "output_for"]

OUTPUTS_SUBJECT = "outputs"
SHADOW_OUTPUTS_SUBJECT = "shadow.outputs"


class OutputMessage(EventOutput):
    """An :class:`EventOutput` with the instance and build that computed it."""

    instance: str
    version: OmsVersion

    def output(self) -> EventOutput:
        return EventOutput.model_validate(self.model_dump(exclude={"instance", "version"}))


def _status_after(fill: Fill) -> OrderStatus:
    filled = fill.order_qty > 0 and fill.cum_qty >= fill.order_qty
    return OrderStatus.FILLED if filled else OrderStatus.PARTIALLY_FILLED


def output_for(
    instance: str, version: OmsVersion, fill: Fill, position: Position, processed_ns: int
) -> OutputMessage:
    """What booking ``fill`` produced: the symbol's ``position`` after it and the order's state."""
    return OutputMessage(
        instance=instance,
        version=version,
        event_id=fill.exec_id,
        processed_ns=processed_ns,
        symbol=fill.symbol,
        position=position.qty,
        avg_price=position.avg_price,
        realized_pnl=position.realized_pnl,
        order_id=fill.order_id,
        order_status=_status_after(fill),
        cum_qty=max(fill.cum_qty, fill.qty),
    )
