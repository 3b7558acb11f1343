"""The mock venue: FIX acceptor + matching engine + ledger of truth + admin API.

Usable in-process::

    async with Venue(config) as venue:
        venue.fix_port, venue.admin_port
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from enum import Enum
from types import TracebackType
from typing import Any

from aiohttp import web

from mock_exchange.admin import OPEN_FILTER, create_admin_app
from mock_exchange.book import Execution, MatchingEngine
from mock_exchange.config import VenueConfig
from mock_exchange.fault_board import FaultBoard
from mock_exchange.fix.acceptor import FixServer
from mock_exchange.fix.codec import FixMessage
from mock_exchange.fix.security_status import announce
from mock_exchange.fix.session import FixSession, SessionRegistry
from mock_exchange.ledger import Ledger
from mock_exchange.market_clock import MarketPhase
from mock_exchange.market_data_log import MarketDataPage
from mock_exchange.matching_loop import MatchingLoop
from mock_exchange.md import MarketData
from mock_exchange.model import SessionEventKind, SessionRecord
from mock_exchange.order_entry import FixOrderEntry
from mock_exchange.refusals import RefusedLogons
from mock_exchange.session_setup import SessionSetup
from mock_exchange.telemetry import VenueTelemetry
from mock_exchange.ws import WsGateway

log = logging.getLogger(__name__)


class VenueError(Exception):
    """The venue cannot be started or is used out of its lifecycle."""


class _State(Enum):
    UNOPENED = "unopened"
    OPENED = "opened"
    CLOSED = "closed"


class Venue:
    """One venue instance; start it once (``async with`` or :meth:`start`/:meth:`stop`)."""

    def __init__(self, config: VenueConfig) -> None:
        self.config = config
        self._state = _State.UNOPENED
        self._ledger: Ledger | None = None
        self._engine: MatchingEngine | None = None
        self._order_entry: FixOrderEntry | None = None
        self.sessions = SessionRegistry(config)
        self._fix_server: FixServer | None = None
        self._admin_runner: web.AppRunner | None = None
        self._matching: MatchingLoop | None = None
        self._matching_task: asyncio.Task[None] | None = None
        self._fix_port: int | None = None
        self._admin_port: int | None = None
        self._ws_port: int | None = None
        self._ws: WsGateway | None = None
        self._refused_logons: RefusedLogons | None = None
        self._market_data: MarketData | None = None
        self._feed_ports: dict[str, int] = {}

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Venue:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._state is not _State.UNOPENED:
            raise VenueError(f"venue cannot start from state {self._state.value}")
        self._state = _State.OPENED
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        config = self.config
        self._ledger = Ledger.open(config.ledger_path)
        telemetry = VenueTelemetry(config.comp_id, lambda: len(self.ledger.open_orders),
                                   lambda: sum(1 for session in self.sessions if session.logged_on))
        self._ledger.observer = telemetry
        self._engine = MatchingEngine(config, self._ledger)
        self._matching = MatchingLoop(self.step, self._engine.faults, config.tick_interval_s)
        self._refused_logons = RefusedLogons(self._ledger)
        self._market_data = MarketData(config, self._engine.prices, self._engine.faults, self._ledger)
        setup = SessionSetup(config.session_setup_s, self._ledger.orders)
        if config.ws_port is not None:
            self._ws = WsGateway(config, self._engine, self._ledger, refusals=self._refused_logons,
                                 session_setup_s=setup.delay_s)
        self._order_entry = FixOrderEntry(
            self._engine,
            self._ledger,
            self.sessions,
            route_orphan_reports_to_firm=config.route_orphan_reports_to_firm,
            deliver_elsewhere=self._ws.sessions.deliver if self._ws is not None else lambda execution: False,
        )
        self._close_sessions_left_open()
        status = self._engine.market_status.status
        status.subscribe(lambda change: announce(self.sessions.logged_on(), change))
        self._fix_server = FixServer(
            self.sessions,
            _SessionEvents(self),
            default_heartbeat_s=config.heartbeat_s,
            logon_timeout_s=config.logon_timeout_s,
            logout_timeout_s=config.logout_timeout_s,
            faults=self._engine.faults,
            batch=self._ledger.deferred_flush,
            before_send=self._ledger.flush,
            session_setup_s=setup.delay_s,
        )
        self._fix_port = await self._fix_server.start(config.host, config.fix_port)
        admin_app = create_admin_app(self, token=config.admin_token, metrics=telemetry.registry)
        self._admin_runner = web.AppRunner(admin_app, access_log=None)
        await self._admin_runner.setup()
        site = web.TCPSite(self._admin_runner, config.host, config.admin_port)
        await site.start()
        self._admin_port = _bound_port(self._admin_runner)
        if self._ws is not None and config.ws_port is not None:
            self._ws_port = await self._ws.start(config.host, config.ws_port)
        self._feed_ports = await self._market_data.start()
        self._matching_task = asyncio.create_task(self._matching.run(), name="venue-matching")
        log.info("venue %s ready: fix=%d admin=%d%s (%s)", config.comp_id, self._fix_port, self._admin_port,
                 "".join(f" feed_{name.lower()}={port}" for name, port in self._feed_ports.items()),
                 "token required" if config.admin_token is not None else "open")

    async def stop(self) -> None:
        """Log out every session, stop serving, close the ledger. Safe to call more than once."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self._matching_task is not None:
            self._matching_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._matching_task
        if self._fix_server is not None:
            await self._fix_server.stop()
        if self._ws is not None:
            await self._ws.stop()
        if self._market_data is not None:
            await self._market_data.stop()
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()
        if self._ledger is not None:
            self._ledger.close()
        log.info("venue %s stopped", self.config.comp_id)

    # -- parts -----------------------------------------------------------------------------

    @property
    def fix_port(self) -> int:
        if self._fix_port is None:
            raise VenueError("venue is not started")
        return self._fix_port

    @property
    def admin_port(self) -> int:
        if self._admin_port is None:
            raise VenueError("venue is not started")
        return self._admin_port

    @property
    def ws_port(self) -> int | None:
        """The WebSocket API's bound port; ``None`` when the venue serves none."""
        if self._state is not _State.OPENED and self.config.ws_port is not None:
            raise VenueError("venue is not started")
        return self._ws_port

    @property
    def feed_ports(self) -> dict[str, int]:
        """Each market-data feed's bound port, by feed name (empty when the venue has no feeds)."""
        if self._state is not _State.OPENED and self.config.feeds:
            raise VenueError("venue is not started")
        return dict(self._feed_ports)

    @property
    def market_data(self) -> MarketData:
        if self._market_data is None:
            raise VenueError("venue is not started")
        return self._market_data

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            raise VenueError("venue is not started")
        return self._ledger

    @property
    def engine(self) -> MatchingEngine:
        if self._engine is None:
            raise VenueError("venue is not started")
        return self._engine

    @property
    def order_entry(self) -> FixOrderEntry:
        if self._order_entry is None:
            raise VenueError("venue is not started")
        return self._order_entry

    @property
    def refused_logons(self) -> RefusedLogons:
        if self._refused_logons is None:
            raise VenueError("venue is not started")
        return self._refused_logons

    @property
    def faults(self) -> FaultBoard:
        return self.engine.faults

    def market_view(self) -> dict[str, Any]:
        market = self.engine.market
        if market is None:
            return {"phase": MarketPhase.OPEN.value, "local_time": None, "timezone": None}
        return market.view()

    def step(self) -> None:
        """One price/matching step, with its reports sent (the matching loop calls this)."""
        self.report(self.engine.step())

    def report(self, executions: Iterable[Execution]) -> None:
        """Send each execution over the protocol its order came in by (WebSocket account or FIX)."""
        self.order_entry.report(executions)

    def _close_sessions_left_open(self) -> None:
        """Sessions the replayed ledger shows connected lost their connection in a crash."""
        for record in list(self.ledger.sessions.values()):
            if record.connected:
                self.on_disconnect(record.sender_comp_id, "venue restarted", record.in_seq, record.out_seq)

    # -- session events --------------------------------------------------------------------

    def on_disconnect(self, sender_comp_id: str, text: str, in_seq: int, out_seq: int) -> None:
        self.ledger.record_session(
            sender_comp_id,
            SessionEventKind.DISCONNECT,
            t_ns=time.monotonic_ns(),
            in_seq=in_seq,
            out_seq=out_seq,
            text=text,
        )
        if self._cancels_on_disconnect(sender_comp_id):
            self.report(
                self.engine.cancel_orders_of_session(sender_comp_id, text=f"cancel on disconnect: {text}")
            )

    def _cancels_on_disconnect(self, sender_comp_id: str) -> bool:
        session = self.sessions.get(sender_comp_id)
        if session is None:
            accounts = self.config.ws_accounts
            return any(a.cancel_on_disconnect for a in accounts if a.account == sender_comp_id)
        return session.cancel_on_disconnect

    # -- admin views -----------------------------------------------------------------------

    def ledger_snapshot(self, *, market_data: bool = True) -> dict[str, Any]:
        """The ledger; with feeds, its market-data lines (``market_data``) or only how many were written."""
        snapshot: dict[str, Any] = {
            "orders": self.order_views(None),
            "fills": self.fill_views(),
            "sessions": self.session_views(),
            "faults": self.ledger.fault_events,
            "bans": self.ledger.bans,
            "trading_status": self.ledger.status_events,
            "now_ns": time.monotonic_ns(),
        }
        if self.config.feeds and market_data:
            snapshot["market_data"] = list(self.ledger.market_data)
        elif self.config.feeds:
            snapshot["market_data_total"] = self.ledger.market_data.total
        snapshot["report_fates"] = self.faults.report_fates()
        return snapshot

    def market_data_page(self, since: int, limit: int) -> MarketDataPage:
        return self.ledger.market_data.page(since, limit)

    @property
    def matching_running(self) -> bool:
        return self._matching is not None and self._matching.running

    def set_matching(self, running: bool) -> None:
        """Stop (or start again) the matching steps: stopped, prices hold and resting orders do not fill."""
        if self._matching is None:
            raise VenueError("the venue is not running")
        if self._matching.running != running:
            log.info("venue %s: matching %s", self.config.comp_id, "started" if running else "stopped")
        self._matching.running = running

    def order_views(self, status: str | None) -> list[dict[str, Any]]:
        if status == OPEN_FILTER:
            orders = self.ledger.open_orders.values()
            return [order.to_json() for order in sorted(orders, key=lambda order: order.received_ns)]
        return [
            order.to_json()
            for order in self.ledger.orders.values()
            if status is None or order.status.value == status
        ]

    def fill_views(self) -> list[dict[str, Any]]:
        return [fill.to_json() for fill in self.ledger.fills]

    def session_views(self) -> list[dict[str, Any]]:
        records = dict(self.ledger.sessions)
        for session in self.sessions:
            records.setdefault(session.sender_comp_id, SessionRecord(session.sender_comp_id))
        for account in self.config.ws_accounts:
            records.setdefault(account.account, SessionRecord(account.account))
        views = []
        for comp_id, record in records.items():
            view = record.to_json()
            live = self.sessions.get(comp_id)
            if live is not None:
                view.update(
                    connected=live.connected,
                    logged_on=live.logged_on,
                    in_seq=live.in_seq,
                    out_seq=live.out_seq,
                )
            elif self._ws is not None and (ws_live := self._ws.sessions.live_view(comp_id)):
                view.update(ws_live)
            views.append(view)
        return views


class _SessionEvents:
    """The venue's answers to session events: ledger lines, cancel-on-disconnect, order entry."""

    def __init__(self, venue: Venue) -> None:
        self._venue = venue

    def on_logon(self, session: FixSession) -> None:
        self._record(session, SessionEventKind.LOGON, None)
        # after the Logon reply (sent once this returns): a session logging on mid-halt learns of it
        asyncio.get_running_loop().call_soon(self._announce_status, session)

    def _announce_status(self, session: FixSession) -> None:
        status = self._venue.engine.market_status.status
        for symbol in status.symbols():
            announce([session], status.current(symbol))

    def on_logon_refused(self, sender_comp_id: str, text: str, *, peer: str = "") -> None:
        self._venue.refused_logons.record(sender_comp_id, text, peer=peer)

    def on_logout(self, session: FixSession, text: str) -> None:
        self._record(session, SessionEventKind.LOGOUT, text)

    def on_disconnect(self, session: FixSession, text: str) -> None:
        self._venue.on_disconnect(session.sender_comp_id, text, session.in_seq, session.out_seq)

    def on_app_message(self, session: FixSession, message: FixMessage) -> None:
        self._venue.order_entry.on_app_message(session, message)

    def _record(self, session: FixSession, kind: SessionEventKind, text: str | None) -> None:
        self._venue.ledger.record_session(
            session.sender_comp_id,
            kind,
            t_ns=time.monotonic_ns(),
            in_seq=session.in_seq,
            out_seq=session.out_seq,
            text=text,
        )


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise VenueError("admin API is not bound to a TCP port")
