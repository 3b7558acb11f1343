"""Configuration of the mock venue process (``python -m mock_exchange --config venue.json``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from mock_exchange.faults import OrderRateLimit
from mock_exchange.market_clock import MarketClockConfig

VENUE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
MARKET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
DEFAULT_MARKETS: tuple[str, ...] = ("MOCKEX",)
MAX_SAFE_LOTS = 2**53 - 1
"""no quantity beyond this is read at all (the largest integer every JSON reader holds exactly)"""
DEFAULT_MAX_ORDER_QTY = 1_000_000_000
DEFAULT_MAX_PRICE = 1_000_000_000.0
ADMIN_TOKEN_PATTERN = r"^[!-~]+$"
"""visible ASCII, no spaces: what an ``Authorization: Bearer`` header carries as it is"""
FEED_NAME_PATTERN = r"^[A-Za-z0-9]{1,8}$"
MAX_FEED_UPDATES_PER_S = 100_000.0
"""per symbol; a feed publishes at most 200,000 updates a second in all (mock_exchange.md.feed)"""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionConfig(_Model):
    """One FIX session the venue accepts (identified by the client's SenderCompID)."""

    sender_comp_id: str
    cancel_on_disconnect: bool = False
    reset_on_logon: bool = Field(
        default=False, description="restart both sequence numbers at 1 on every logon, as test venues do"
    )
    firm: str = Field(default="", description="firm the session belongs to; empty = the venue's one firm")


class WsAccountConfig(_Model):
    """One WebSocket API account: one session of the venue, named in the ledger like a SenderCompID."""

    account: str = Field(min_length=1)
    api_key: str = Field(min_length=1)
    cancel_on_disconnect: bool = False
    firm: str = Field(default="", description="firm the account belongs to; empty = the venue's one firm")


class SymbolConfig(_Model):
    symbol: str
    start_price: float = Field(gt=0, allow_inf_nan=False)
    tick: float = Field(default=0.01, gt=0, allow_inf_nan=False)
    volatility_bps: float = Field(
        default=2.0, ge=0, le=10_000, allow_inf_nan=False, description="std-dev of one price step, in bps"
    )
    spread_ticks: int = Field(default=2, ge=1, description="ask - bid, in ticks")


class FeedConfig(_Model):
    """One market-data feed of the venue's prices: a WebSocket server on its own port (contracts §10)."""

    name: str = Field(pattern=FEED_NAME_PATTERN, description="A, B, ...; READY says feed_<name lowercased>")
    port: int = Field(default=0, ge=0, le=65535)
    updates_per_s: float = Field(
        default=20.0, gt=0, le=MAX_FEED_UPDATES_PER_S, allow_inf_nan=False, description="per symbol"
    )
    heartbeat_s: float = Field(
        default=1.0, ge=0.01, le=3600, allow_inf_nan=False,
        description="a heartbeat on a connection that got nothing else for this long",
    )
    max_queue_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        le=1024 * 1024 * 1024,
        description="bytes waiting for one subscriber beyond which it is disconnected (a slow consumer)",
    )


class VenueConfig(_Model):
    name: str = Field(default="venue", pattern=VENUE_NAME_PATTERN, description="names the venue's ports")
    host: str = "127.0.0.1"
    fix_port: int = Field(ge=0, le=65535)
    admin_port: int = Field(ge=0, le=65535)
    admin_token: str | None = Field(
        default=None,
        max_length=1024,
        pattern=ADMIN_TOKEN_PATTERN,
        repr=False,
        description="every admin route but GET /health requires Authorization: Bearer <token>; None = open",
    )
    comp_id: str = "MOCKEX"
    sessions: tuple[SessionConfig, ...] = ()
    accept_any_session: bool = False
    symbols: tuple[SymbolConfig, ...] = (
        SymbolConfig(symbol="BTC-USD", start_price=60000.0),
        SymbolConfig(symbol="ETH-USD", start_price=3000.0),
    )
    seed: int = 0
    tick_interval_s: float = Field(default=0.02, gt=0, description="price-process and matching step")
    fill_probability: float = Field(
        default=0.6, ge=0, le=1, description="chance a marketable order fills on a step"
    )
    heartbeat_s: int = Field(default=30, ge=1)
    ledger_path: Path
    logon_timeout_s: float = Field(default=10.0, gt=0, description="close connections that do not log on")
    session_setup_s: float = Field(
        default=3.0, ge=0, le=60, allow_inf_nan=False,
        description="a session connecting once the venue has taken an order is read this long after it "
        "connected (seed 002: 2-5 s to establish a session); start-of-day sessions at once",
    )
    order_rate_limit: OrderRateLimit | None = Field(
        default=None, description="the venue's published order rate limit, with its ban; None = no limit"
    )
    logout_timeout_s: float = Field(
        default=2.0, gt=0, description="how long a Logout from the venue waits for the counterparty's"
    )
    market_clock: MarketClockConfig | None = Field(
        default=None, description="exchange-local clock driving market phases; None = always open"
    )
    route_orphan_reports_to_firm: bool = Field(
        default=True,
        description="send reports of an order whose session is down to the firm's logged-on sessions",
    )
    ws_port: int | None = Field(default=None, ge=0, le=65535, description="WebSocket API; None = off")
    ws_accounts: tuple[WsAccountConfig, ...] = ()
    markets: tuple[Annotated[str, Field(pattern=MARKET_PATTERN)], ...] = Field(
        default=DEFAULT_MARKETS,
        min_length=1,
        description="where an order's trades are reported, in turn (LastMkt, tag 30); the default names none",
    )
    max_fill_lots: int | None = Field(
        default=None, gt=0, description="a trade above this many lots is reported in pieces; None = whole"
    )
    max_order_qty: int = Field(
        default=DEFAULT_MAX_ORDER_QTY,
        gt=0,
        le=MAX_SAFE_LOTS,
        description="a new order or replace for more lots is rejected (FIX 39=8, a rejected WebSocket order)",
    )
    max_price: float = Field(
        default=DEFAULT_MAX_PRICE,
        gt=0,
        allow_inf_nan=False,
        description="a limit price above this is rejected; no price path moves a symbol above it",
    )
    feeds: tuple[FeedConfig, ...] = Field(
        default=(), description="market-data feeds of the venue's prices; empty = none"
    )

    @property
    def reports_market(self) -> bool:
        """Whether trades name their market: only when ``markets`` is not the default."""
        return self.markets != DEFAULT_MARKETS

    @model_validator(mode="after")
    def _symbols_start_below_the_max_price(self) -> VenueConfig:
        above = [symbol.symbol for symbol in self.symbols if symbol.start_price > self.max_price]
        if above:
            raise ValueError(f"start_price above max_price {self.max_price:g}: {', '.join(above)}")
        return self

    @model_validator(mode="after")
    def _sessions_set_up_before_the_logon_timeout(self) -> VenueConfig:
        if self.session_setup_s >= self.logon_timeout_s:
            raise ValueError(f"session_setup_s ({self.session_setup_s:g}) must be below logon_timeout_s "
                             f"({self.logon_timeout_s:g}): no session could log on in time")
        return self

    @model_validator(mode="after")
    def _feeds_are_distinct(self) -> VenueConfig:
        names = [feed.name.lower() for feed in self.feeds]
        if len(set(names)) != len(names):
            raise ValueError("feed names must differ, ignoring case (READY names them in lower case)")
        ports = _fixed_ports(self)
        if self.feeds and len(set(ports)) != len(ports):
            raise ValueError("the venue's FIX, WebSocket, admin and feed ports must differ")
        return self

    @field_validator("ws_accounts")
    @classmethod
    def _accounts_are_distinct_sessions(
        cls, accounts: tuple[WsAccountConfig, ...], info: ValidationInfo
    ) -> tuple[WsAccountConfig, ...]:
        names = [account.account for account in accounts]
        fix_names = {session.sender_comp_id for session in info.data.get("sessions", ())}
        if len(set(names)) != len(names):
            raise ValueError("WebSocket account names must be unique")
        if clashes := sorted(fix_names.intersection(names)):
            raise ValueError(f"WebSocket account(s) {clashes} clash with FIX sessions of the same name")
        return accounts


class ExchangeConfig(_Model):
    """Several venues served by one process, each on its own ports with its own ledger."""

    venues: tuple[VenueConfig, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _venues_are_distinct(self) -> ExchangeConfig:
        for what, values in (
            ("name", [venue.name for venue in self.venues]),
            ("ledger_path", [venue.ledger_path.resolve() for venue in self.venues]),
            ("port", [port for venue in self.venues for port in _fixed_ports(venue)]),
        ):
            if len(set(values)) != len(values):
                raise ValueError(f"each venue needs its own {what}")
        return self


def _fixed_ports(venue: VenueConfig) -> list[int]:
    """The ports a venue asks for by number (0 picks a free one, so it never clashes)."""
    ports = (venue.fix_port, venue.ws_port, venue.admin_port, *(feed.port for feed in venue.feeds))
    return [port for port in ports if port]
