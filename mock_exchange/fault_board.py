"""The venue's live exchange faults and the state they keep (rate windows, bans, cooldowns).

Protocol-neutral: the matching engine asks it about orders and cancels, the FIX layer about
logons and execution reports; a WebSocket gateway asks the same questions. Listeners hear
every change (the engine records it in the ledger and, on a heal, releases or drops held
cancels); a listener that fails is logged and never undoes the change or keeps the others from
hearing it, so healing always heals.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from mock_exchange.faults import (
    HALT_TEXT,
    RATE_LIMIT_TEXT,
    CancelFailure,
    CooldownScope,
    CountedRequest,
    ExecutionReports,
    Fault,
    FaultKind,
    FaultParamsError,
    Halt,
    OrderRateLimit,
    RateLimit,
    ReconnectCooldown,
    RejectNewOrders,
    ReportFaultMode,
    Slippage,
)

log = logging.getLogger(__name__)

FaultListener = Callable[[FaultKind, Fault | None], None]
# Why a fault cannot be armed at this venue (e.g. an unknown symbol), or None.
FaultCheck = Callable[[Fault], str | None]
# A session banned by a rate limit: (session, ban_s, text of the refusal that banned it).
BanListener = Callable[[str, float, str], None]


class FaultBoard:
    """Which faults are armed, by kind; putting a kind again replaces its parameters.

    ``published_limit`` is the venue's own order rate limit (on new orders), in force whenever no
    armed ``rate_limit`` fault applies to the session; both share one window and one ban per session.
    """

    def __init__(self, *, seed: int = 0, clock: Callable[[], float] = time.monotonic,
                 published_limit: OrderRateLimit | None = None) -> None:
        self._clock = clock
        self.published_limit = published_limit
        self._ban_listeners: list[BanListener] = []
        self._faults: dict[FaultKind, Fault] = {}
        self._listeners: list[FaultListener] = []
        self._checks: list[FaultCheck] = []
        self._rng = random.Random(seed)
        self._rate_limiter = _RateLimiter()
        self._cooldowns = _Cooldowns()
        self._report_fates: Counter[str] = Counter()

    # -- changes ---------------------------------------------------------------------------

    def subscribe(self, listener: FaultListener) -> None:
        """Call ``listener(kind, fault)`` after every change (``fault`` is ``None`` on a heal)."""
        self._listeners.append(listener)

    def subscribe_bans(self, listener: BanListener) -> None:
        """Call ``listener(session, ban_s, text)`` when a rate limit bans a session."""
        self._ban_listeners.append(listener)

    def add_check(self, check: FaultCheck) -> None:
        """Refuse to arm a fault ``check`` finds a problem with (:meth:`arm` raises)."""
        self._checks.append(check)

    def arm(self, fault: Fault) -> Fault:
        """Arm ``fault``; :class:`FaultParamsError` when a check refuses it (nothing changes)."""
        for check in self._checks:
            problem = check(fault)
            if problem is not None:
                raise FaultParamsError(problem)
        self._faults[fault.kind] = fault
        if isinstance(fault, RateLimit):
            self._rate_limiter.clear()
        elif isinstance(fault, ReconnectCooldown):
            self._cooldowns.clear()
        self._notify(fault.kind, fault)
        return fault

    def heal(self, kind: FaultKind) -> None:
        """Disarm ``kind``; a no-op (and no notification) when it is not armed."""
        if self._faults.pop(kind, None) is not None:
            self._notify(kind, None)

    def heal_all(self) -> None:
        for kind in list(self._faults):
            self.heal(kind)

    def disarm(self, kind: FaultKind, reason: str) -> None:
        """Heal ``kind`` because the venue cannot go on with it (logged as an error, once)."""
        if kind in self._faults:
            log.error("disarming exchange fault %s: %s", kind.value, reason)
            self.heal(kind)

    def active(self) -> list[Fault]:
        return list(self._faults.values())

    @property
    def armed(self) -> bool:
        """Whether any fault is armed (the hot paths skip every question when none is)."""
        return bool(self._faults)

    @property
    def questions_orders(self) -> bool:
        """Whether a new order must be put to :meth:`order_refusal` and :meth:`admit`."""
        return bool(self._faults) or self.published_limit is not None

    def _notify(self, kind: FaultKind, fault: Fault | None) -> None:
        for listener in self._listeners:
            try:
                listener(kind, fault)
            except Exception:
                action = "arming" if fault is not None else "healing"
                log.exception("a listener failed on %s exchange fault %s", action, kind.value)

    # -- questions -------------------------------------------------------------------------

    def order_refusal(self, session: str, symbol: str) -> str | None:
        """Why a new order is refused by a halt or a reject-all fault, else ``None``."""
        if self.is_halted(symbol, session):
            return f"{HALT_TEXT}: {symbol}"
        reject = self._faults.get(FaultKind.REJECT_NEW_ORDERS)
        if isinstance(reject, RejectNewOrders) and reject.applies_to(session):
            return reject.reason
        return None

    def admit(self, session: str, request: CountedRequest = CountedRequest.NEW) -> str | None:
        """Count a request against the rate limit (when it counts ``request``): the refusal text,
        or ``None`` (admitted)."""
        limit = self._limit_for(session, request)
        if limit is None:
            return None
        refusal, banned = self._rate_limiter.admit(session, limit, self._clock())
        if banned:
            self._notify_ban(session, limit.ban_s, refusal or RATE_LIMIT_TEXT)
        return refusal

    def _limit_for(self, session: str, request: CountedRequest) -> OrderRateLimit | None:
        """An armed rate-limit fault for ``session`` replaces the published limit (on new orders)."""
        fault = self._faults.get(FaultKind.RATE_LIMIT)
        if isinstance(fault, RateLimit) and fault.applies_to(session):
            return fault if request in fault.counts else None
        return self.published_limit if request is CountedRequest.NEW else None

    def _notify_ban(self, session: str, ban_s: float, text: str) -> None:
        for listener in self._ban_listeners:
            try:
                listener(session, ban_s, text)
            except Exception:
                log.exception("a listener failed on the ban of session %s", session)

    def is_halted(self, symbol: str, session: str) -> bool:
        """Whether ``symbol`` is halted for ``session`` (the SenderCompID of the order)."""
        halt = self._faults.get(FaultKind.HALT)
        return isinstance(halt, Halt) and symbol in halt.symbols and halt.applies_to(session)

    def slippage_bps(self, session: str) -> float:
        """How far from the touch ``session``'s marketable orders fill (0: at the touch)."""
        slippage = self._faults.get(FaultKind.SLIPPAGE)
        return slippage.bps if isinstance(slippage, Slippage) and slippage.applies_to(session) else 0.0

    def cancel_failure(self, session: str, symbol: str) -> CancelFailure | None:
        failure = self._faults.get(FaultKind.CANCEL_FAILURE)
        if not isinstance(failure, CancelFailure) or not failure.applies_to(session):
            return None
        if failure.symbol is not None and failure.symbol != symbol:
            return None
        return failure

    def report_fault(self, session: str, *, fill: bool) -> ExecutionReports | None:
        """The execution-report fault for one report to ``session`` (``fill``: a trade report),
        after its seeded roll; reports the fault does not select spend no roll."""
        fault = self._faults.get(FaultKind.EXECUTION_REPORTS)
        if not isinstance(fault, ExecutionReports) or not fault.applies_to(session):
            return None
        if not fault.selects(fill=fill):
            return None
        roll = self._rng.random()
        if fault.mix is not None:
            mode = fault.mix.pick(roll)
            if mode is None:
                return None
            fault = fault.model_copy(update={"mode": mode})
        elif roll >= fault.probability:
            return None
        self._report_fates[fault.mode.value] += 1
        return fault

    def report_fates(self) -> dict[str, int]:
        """How many reports each execution-report fate took so far (``drop``, ``duplicate``, ``delay``)."""
        return {mode.value: self._report_fates[mode.value] for mode in ReportFaultMode
                if mode is not ReportFaultMode.MIXED}

    def note_disconnect(self, session: str, firm: str, *, clean: bool) -> None:
        """A session of ``firm`` ended (``clean``: with a Logout); counts only while armed."""
        if FaultKind.RECONNECT_COOLDOWN in self._faults:
            self._cooldowns.add(_Ended(session, firm, self._clock(), clean))

    def logon_refusal(self, session: str, firm: str) -> str | None:
        """Why a logon is refused by the reconnect cooldown, else ``None``."""
        cooldown = self._faults.get(FaultKind.RECONNECT_COOLDOWN)
        if not isinstance(cooldown, ReconnectCooldown) or not cooldown.applies_to(session):
            return None
        remaining = self._cooldowns.remaining(session, firm, cooldown, self._clock())
        if remaining <= 0:
            return None
        return f"reconnect cooldown, {remaining:.1f} s remaining"


class _RateLimiter:
    """Sliding windows of admitted orders and bans, per session."""

    def __init__(self) -> None:
        self._admitted: dict[str, deque[float]] = {}
        self._banned_until: dict[str, float] = {}

    def clear(self) -> None:
        self._admitted.clear()
        self._banned_until.clear()

    def admit(self, session: str, limit: OrderRateLimit, now: float) -> tuple[str | None, bool]:
        """The refusal text (``None``: admitted), and whether this request started a ban."""
        banned_until = self._banned_until.get(session, 0.0)
        if now < banned_until:
            return f"{RATE_LIMIT_TEXT}: banned for another {banned_until - now:.1f} s", False
        window = self._admitted.setdefault(session, deque())
        while window and window[0] <= now - limit.window_s:
            window.popleft()
        if len(window) >= limit.max_orders:
            if limit.ban_s > 0:
                self._banned_until[session] = now + limit.ban_s
            return RATE_LIMIT_TEXT, limit.ban_s > 0
        window.append(now)
        return None, False


@dataclass(frozen=True, slots=True)
class _Ended:
    session: str
    firm: str
    at: float
    clean: bool


class _Cooldowns:
    """Session ends seen while a reconnect cooldown was armed."""

    def __init__(self) -> None:
        self._ended: list[_Ended] = []

    def clear(self) -> None:
        self._ended.clear()

    def add(self, ended: _Ended) -> None:
        self._ended.append(ended)

    def remaining(self, session: str, firm: str, cooldown: ReconnectCooldown, now: float) -> float:
        remaining = 0.0
        for ended in self._ended:
            same_scope = (
                ended.firm == firm if cooldown.scope is CooldownScope.FIRM else ended.session == session
            )
            if same_scope:
                duration = cooldown.clean_s if ended.clean else cooldown.unclean_s
                remaining = max(remaining, ended.at + duration - now)
        return remaining
