"""SecurityStatus (35=f): the venue tells its FIX sessions when a symbol halts or trades again.

Sent unsolicited to every logged-on session on each change of
:class:`~mock_exchange.trading_status.TradingStatus`, and for every halted or banded symbol right
after a logon, so a session that connects mid-halt learns of it before its first order:

- 55 Symbol; 326 SecurityTradingStatus: 2 (trading halt) or 17 (ready to trade);
- 327 HaltReasonChar ``I`` (order imbalance: a limit-up/limit-down pause), ``X`` (equipment
  changeover: a session break) or ``M`` (additional information: a halt for any other reason);
- 332 HighPx / 333 LowPx: the price band's upper and lower edge, when one is in force;
- 58 Text: the venue's words (the text orders on a halted symbol are refused with).
"""

from __future__ import annotations

from collections.abc import Iterable

from mock_exchange.fix.codec import Field
from mock_exchange.fix.session import FixSession
from mock_exchange.trading_status import HaltCause, StatusChange

SECURITY_STATUS = b"f"
SYMBOL, TEXT, SECURITY_TRADING_STATUS, HALT_REASON, HIGH_PX, LOW_PX = 55, 58, 326, 327, 332, 333
TRADING_HALT, READY_TO_TRADE = b"2", b"17"
_HALT_REASONS = {HaltCause.LIMIT_UP: b"I", HaltCause.LIMIT_DOWN: b"I", HaltCause.SESSION: b"X"}


def security_status_fields(change: StatusChange) -> list[Field]:
    fields: list[Field] = [
        (SYMBOL, change.symbol.encode()),
        (SECURITY_TRADING_STATUS, TRADING_HALT if change.halted else READY_TO_TRADE),
    ]
    if change.halted:
        fields.append((HALT_REASON, _HALT_REASONS.get(change.causes[0], b"M")))
    if change.band is not None:
        fields += [(HIGH_PX, b"%r" % change.band.upper), (LOW_PX, b"%r" % change.band.lower)]
    fields.append((TEXT, change.text.encode()))
    return fields


def announce(sessions: Iterable[FixSession], change: StatusChange) -> None:
    """Send ``change`` to each logged-on session of ``sessions``."""
    fields = security_status_fields(change)
    for session in sessions:
        session.send(SECURITY_STATUS, fields)
