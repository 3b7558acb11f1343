"""Dark-launch verifier: blue's and green's outputs for the same input event, compared (pure).

Each OMS instance emits one :class:`EventOutput` per input event (key: the event id, e.g. the
fill's exec id). Numeric outputs may differ by ``tolerance_bps``; a different direction
(long / short / flat), order status or cumulative quantity is always critical. Shadow lag is
how far green's processing trails blue's for the same events; while it exceeds
``max_lag_s`` the verdict is ``stale``, never ``clean``. Silence is not agreement: when neither
side produced an output within the last ``max_lag_s`` (by the instances' ``processed_ns``) the
verdict is ``no-evidence``, never ``clean`` (defect ``deploy-ignores-blue-health`` restores the
old reading, in which nothing to contradict a verdict made it clean).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from trading_stack.defects import Defect
from trading_stack.models import OrderStatus

__all__ = [
    "Color",
    "Direction",
    "Discrepancy",
    "EventOutput",
    "OutputField",
    "Severity",
    "Verdict",
    "Verification",
    "Verifier",
    "VerifierConfig",
    "compare_outputs",
]

NS_PER_S = 1_000_000_000


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Color(StrEnum):
    BLUE = "blue"
    GREEN = "green"


class Verdict(StrEnum):
    CLEAN = "clean"
    DIVERGED = "diverged"
    STALE = "stale"
    INSUFFICIENT = "insufficient"
    NO_EVIDENCE = "no-evidence"  # no output from either side within the evidence window


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class Direction(StrEnum):
    LONG = "long"
    SHORT = "short"
    FLAT = "flat"

    @classmethod
    def of(cls, qty: int) -> Direction:
        return cls.LONG if qty > 0 else cls.SHORT if qty < 0 else cls.FLAT


class OutputField(StrEnum):
    POSITION = "position"
    AVG_PRICE = "avg_price"
    REALIZED_PNL = "realized_pnl"
    DIRECTION = "direction"
    ORDER_STATUS = "order_status"
    CUM_QTY = "cum_qty"


NUMERIC_FIELDS = (OutputField.POSITION, OutputField.AVG_PRICE, OutputField.REALIZED_PNL)


class EventOutput(_Frozen):
    """What one instance computed for one input event (published on ``<prefix>.shadow.outputs``)."""

    event_id: str = Field(min_length=1)
    processed_ns: int = Field(ge=0)
    symbol: str = Field(min_length=1)
    position: int
    avg_price: float = Field(allow_inf_nan=False)
    realized_pnl: float = Field(allow_inf_nan=False)
    order_id: str | None = None
    order_status: OrderStatus | None = None
    cum_qty: int | None = None

    @property
    def direction(self) -> Direction:
        return Direction.of(self.position)


Value = int | float | str | None


class Discrepancy(_Frozen):
    event_id: str
    field: OutputField
    blue: Value
    green: Value
    relative_bps: float | None
    severity: Severity


class VerifierConfig(_Frozen):
    tolerance_bps: float = Field(default=1.0, ge=0)
    critical_bps: float = Field(default=100.0, ge=0, description="numeric differences above are critical")
    max_lag_s: float = Field(default=5.0, gt=0, description="staleness bound; also the evidence window")
    min_events: int = Field(default=1, ge=1, description="compared events needed before a clean verdict")
    max_pending: int = Field(default=100_000, ge=1)
    evidence_limit: int = Field(default=20, ge=1)
    abs_epsilon: float = Field(default=1e-9, ge=0, description="absolute differences below are equal")
    defects: tuple[Defect, ...] = ()


class Verification(_Frozen):
    """A verdict at ``t_ns`` and the evidence for it.

    ``last_blue_ns`` / ``last_green_ns``: the newest ``processed_ns`` seen from each side (None:
    nothing yet); an output older than ``evidence_window_ns`` at ``t_ns`` is no evidence of now.
    """

    verdict: Verdict
    t_ns: int
    compared: int
    pending: int
    lag_ns: int
    lag_checked: bool
    overflowed: bool
    critical: int
    warnings: int
    discrepancies: tuple[Discrepancy, ...]
    last_blue_ns: int | None = None
    last_green_ns: int | None = None
    evidence_window_ns: int = Field(ge=0)

    def last_seen(self, color: Color) -> int | None:
        return self.last_blue_ns if color is Color.BLUE else self.last_green_ns

    def has_evidence(self, color: Color, now_ns: int) -> bool:
        """An output from ``color`` processed within the evidence window before ``now_ns``."""
        last = self.last_seen(color)
        return last is not None and now_ns - last <= self.evidence_window_ns


def _relative_bps(blue: float, green: float, epsilon: float) -> float:
    difference = abs(green - blue)
    if difference <= epsilon:
        return 0.0
    if blue == 0:
        return math.inf
    return difference / abs(blue) * 10_000


def compare_outputs(blue: EventOutput, green: EventOutput, config: VerifierConfig) -> list[Discrepancy]:
    """The discrepancies between two outputs for the same event (empty when they agree)."""
    found: list[Discrepancy] = []
    for field in NUMERIC_FIELDS:
        b, g = getattr(blue, field.value), getattr(green, field.value)
        bps = _relative_bps(float(b), float(g), config.abs_epsilon)
        if bps > config.tolerance_bps:
            severity = Severity.CRITICAL if bps > config.critical_bps else Severity.WARNING
            found.append(Discrepancy(
                event_id=blue.event_id, field=field, blue=b, green=g,
                relative_bps=None if math.isinf(bps) else bps, severity=severity,
            ))
    exact: tuple[tuple[OutputField, Value, Value], ...] = (
        (OutputField.DIRECTION, blue.direction.value, green.direction.value),
        (OutputField.ORDER_STATUS, blue.order_status, green.order_status),
        (OutputField.CUM_QTY, blue.cum_qty, green.cum_qty),
    )
    for field, b_value, g_value in exact:
        if b_value != g_value:
            found.append(Discrepancy(
                event_id=blue.event_id, field=field, blue=b_value, green=g_value,
                relative_bps=None, severity=Severity.CRITICAL,
            ))
    return found


class Verifier:
    """Pairs blue's and green's outputs by event id and keeps a running verdict.

    Bounded memory: unmatched outputs wait in FIFOs of at most ``max_pending`` (an overflow
    means green is hopelessly behind, so the verdict is stale); matched pairs are counted and
    only the first ``evidence_limit`` discrepancies are kept. A divergence never heals.
    """

    def __init__(self, config: VerifierConfig | None = None) -> None:
        self.config = config or VerifierConfig()
        self._pending: dict[Color, OrderedDict[str, EventOutput]] = {c: OrderedDict() for c in Color}
        self._compared = 0
        self._critical = 0
        self._warnings = 0
        self._evidence: list[Discrepancy] = []
        self._last_lag_ns = 0
        self._overflowed = False
        self._last_ns: dict[Color, int | None] = dict.fromkeys(Color)

    @property
    def checks_lag(self) -> bool:
        return Defect.VERIFIER_IGNORES_LAG not in self.config.defects

    @property
    def checks_evidence(self) -> bool:
        return Defect.DEPLOY_IGNORES_BLUE_HEALTH not in self.config.defects

    @property
    def evidence_window_ns(self) -> int:
        return int(self.config.max_lag_s * NS_PER_S)

    def observe(self, color: Color, output: EventOutput) -> list[Discrepancy]:
        """Record one instance's output; returns the discrepancies if it completed a pair."""
        last = self._last_ns[color]
        self._last_ns[color] = output.processed_ns if last is None else max(last, output.processed_ns)
        other = Color.GREEN if color is Color.BLUE else Color.BLUE
        counterpart = self._pending[other].pop(output.event_id, None)
        if counterpart is None:
            self._wait(color, output)
            return []
        blue, green = (output, counterpart) if color is Color.BLUE else (counterpart, output)
        self._last_lag_ns = max(0, green.processed_ns - blue.processed_ns)
        self._compared += 1
        found = compare_outputs(blue, green, self.config)
        for discrepancy in found:
            if discrepancy.severity is Severity.CRITICAL:
                self._critical += 1
            else:
                self._warnings += 1
        room = self.config.evidence_limit - len(self._evidence)
        self._evidence.extend(found[: max(0, room)])
        return found

    def _wait(self, color: Color, output: EventOutput) -> None:
        pending = self._pending[color]
        pending[output.event_id] = output
        if len(pending) > self.config.max_pending:
            pending.popitem(last=False)
            if color is Color.BLUE:
                self._overflowed = True

    def lag_ns(self, now_ns: int) -> int:
        """How far green trails blue: the oldest output blue has and green has not, else the last pair's."""
        waiting = self._pending[Color.BLUE]
        if waiting:
            oldest = next(iter(waiting.values()))
            return max(0, now_ns - oldest.processed_ns)
        return self._last_lag_ns

    def verdict(self, now_ns: int) -> Verification:
        lag = self.lag_ns(now_ns)
        result = Verification(
            verdict=Verdict.CLEAN, t_ns=now_ns, compared=self._compared,
            pending=len(self._pending[Color.BLUE]), lag_ns=lag, lag_checked=self.checks_lag,
            overflowed=self._overflowed,
            critical=self._critical, warnings=self._warnings, discrepancies=tuple(self._evidence),
            last_blue_ns=self._last_ns[Color.BLUE], last_green_ns=self._last_ns[Color.GREEN],
            evidence_window_ns=self.evidence_window_ns,
        )
        silent = not any(result.has_evidence(color, now_ns) for color in Color)
        if self._critical or self._warnings:
            verdict = Verdict.DIVERGED
        elif self.checks_lag and (self._overflowed or lag > self.config.max_lag_s * NS_PER_S):
            verdict = Verdict.STALE
        elif self.checks_evidence and silent:
            verdict = Verdict.NO_EVIDENCE
        elif self._compared < self.config.min_events:
            verdict = Verdict.INSUFFICIENT
        else:
            return result
        return result.model_copy(update={"verdict": verdict})
