"""Checkers by name: the registry scenarios' ``expect`` keys are looked up in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from gameday.checker_specs import FAILOVERS_DATABASE, ORDERS_CLIENT_FAILED, ORDERS_CLIENT_UNKNOWN
from gameday.checkers.alert_rules import alert_rule_checkers
from gameday.checkers.alerts import AlertTotal, UnknownOpenOrders
from gameday.checkers.availability import AvailableAtEnd, TradingUnavailable
from gameday.checkers.bans import ban_checkers
from gameday.checkers.base import Checker
from gameday.checkers.booked import DuplicateBooked
from gameday.checkers.client import ClientOutcomeCount
from gameday.checkers.cutover_evidence import CutoverOnStaleEvidence
from gameday.checkers.deploy_start import LocalStartTime
from gameday.checkers.deployment import deployment_checkers
from gameday.checkers.exposure import ExposureBeyondIntended
from gameday.checkers.failovers import FailoverCount
from gameday.checkers.fills import DatabaseWriteRecovery, LostFills
from gameday.checkers.gap import TradingGap
from gameday.checkers.ghost import GhostOrders
from gameday.checkers.ghost_alerts import OrdersBeforeGhostsAlerted
from gameday.checkers.halts import OrdersOutsideBand, OrdersSentIntoHalt
from gameday.checkers.kill_switch import kill_switch_checkers
from gameday.checkers.lease import SentWithoutLease
from gameday.checkers.ledger_end import GrossPositionAtEnd, OpenOrdersAtEnd
from gameday.checkers.load import LoadFailureRatio, LoadP99
from gameday.checkers.market_data import market_data_checkers
from gameday.checkers.metric import metric_checkers
from gameday.checkers.positions import PositionMismatch
from gameday.checkers.replication import ReplicationLag
from gameday.checkers.report_fates import report_fate_checkers
from gameday.checkers.risk import RestingOrdersCancelled, RiskLimitBreaches
from gameday.checkers.rto import FailoverRto
from gameday.checkers.shutdown import CheckpointWritten, ExitCode, OrdersLeftOpen
from gameday.checkers.sla import sla_checkers
from gameday.checkers.stopped import StopLinesCrossed
from gameday.checkers.store_backlog import StoreBacklogAtEnd, StoreRowsLost
from gameday.checkers.writers import ConcurrentWriters
from gameday.history import OpType

__all__ = ["DEFAULT_CHECKERS", "CheckerRegistry", "build_registry", "default_checkers"]

CheckerRegistry = Mapping[str, Checker]


def build_registry(checkers: Iterable[Checker]) -> CheckerRegistry:
    """A read-only name → checker map; two checkers with one name is a programming error."""
    by_name: dict[str, Checker] = {}
    for checker in checkers:
        if checker.name in by_name:
            raise ValueError(f"two checkers are named {checker.name!r}")
        by_name[checker.name] = checker
    return MappingProxyType(by_name)


def default_checkers() -> tuple[Checker, ...]:
    return (
        FailoverRto(),
        PositionMismatch(),
        GhostOrders(),
        ConcurrentWriters(),
        ClientOutcomeCount(ORDERS_CLIENT_FAILED, OpType.FAIL, "client order placements that failed"),
        ClientOutcomeCount(ORDERS_CLIENT_UNKNOWN, OpType.INFO,
                           "client order placements whose outcome is unknown (timed out)"),
        FailoverCount(),
        FailoverCount(FAILOVERS_DATABASE, daemon="db-failover"),
        TradingGap(),
        TradingUnavailable(),
        AvailableAtEnd(),
        SentWithoutLease(),
        DuplicateBooked(),
        UnknownOpenOrders(),
        OrdersBeforeGhostsAlerted(),
        AlertTotal(),
        ReplicationLag(),
        RiskLimitBreaches(),
        RestingOrdersCancelled(),
        *deployment_checkers(),
        CutoverOnStaleEvidence(),
        LocalStartTime(),
        LostFills(),
        DatabaseWriteRecovery(),
        StoreRowsLost(),
        StoreBacklogAtEnd(),
        LoadFailureRatio(),
        LoadP99(),
        *market_data_checkers(),
        OrdersLeftOpen(),
        CheckpointWritten(),
        ExitCode(),
        *kill_switch_checkers(),
        ExposureBeyondIntended(),
        *report_fate_checkers(),
        *metric_checkers(),
        *alert_rule_checkers(),
        *sla_checkers(),
        StopLinesCrossed(),
        OpenOrdersAtEnd(),
        GrossPositionAtEnd(),
        *ban_checkers(),
        OrdersSentIntoHalt(),
        OrdersOutsideBand(),
    )


DEFAULT_CHECKERS: CheckerRegistry = build_registry(default_checkers())
"""The default checkers by name: the specs of :data:`gameday.checker_specs.CHECKER_CATALOG`, implemented."""
