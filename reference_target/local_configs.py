"""What each service of the embedded local stack is configured with.

The venue's, each OMS instance's and the failover daemon's configuration, built from the stack's
settings and the addresses of the proxies it has created (:class:`StackEndpoints`). Nothing here
starts, stops or waits for a process: that is :mod:`reference_target.local`.
"""

from __future__ import annotations

from collections.abc import Mapping

from gameday.scenario.presets import Hop, InitialRole, hop_name, topology
from gameday.stack.errors import StackError
from gameday.stack.postgres import read_write_dsn
from gameday.stack.settings import StackEndpoints, StackSettings
from gameday.workload import reference_price
from mock_exchange.config import FeedConfig, SessionConfig, SymbolConfig, VenueConfig
from reference_target.venue_settings import oms_venue_fields, venue_fields
from trading_stack.config import FailoverConfig, OmsConfig
from trading_stack.market_data.config import MarketDataConfig
from trading_stack.market_data.section import MarketDataSection, feed_hop_destination


def comp_id(instance: str) -> str:
    """The FIX SenderCompID an OMS instance logs on to the venue with."""
    return instance.upper()


def proxy_address(endpoints: StackEndpoints, hop: str) -> tuple[str, int]:
    host, port = endpoints.proxies[hop].rsplit(":", 1)
    return host, int(port)


def venue_config(settings: StackSettings) -> VenueConfig:
    """A session for every OMS instance of the preset, the scenario's symbols and feeds."""
    return VenueConfig(
        fix_port=0,
        admin_port=0,
        sessions=tuple(SessionConfig(sender_comp_id=comp_id(instance))
                       for instance in topology(settings.preset).oms_instances),
        symbols=tuple(SymbolConfig(symbol=s, start_price=reference_price(s)) for s in settings.symbols),
        seed=settings.seed,
        ledger_path=settings.run_dir.path / "ledger.jsonl",
        admin_token=settings.admin_token,
        feeds=venue_feeds(market_data_section(settings)),
        **venue_fields(settings),
    )


def oms_config(
    instance: str, role: InitialRole, settings: StackSettings, endpoints: StackEndpoints
) -> OmsConfig:
    """An OMS of the failover stack: every connection through its proxies, both database hosts."""
    fix_host, fix_port = proxy_address(endpoints, f"{instance}->exchange")
    nats_host, nats_port = proxy_address(endpoints, f"{instance}->nats")
    return OmsConfig(
        instance_id=instance,
        initial_role=role.value,
        http_port=0,
        admin_token=settings.admin_token,
        fix_host=fix_host,
        fix_port=fix_port,
        fix_sender_comp_id=comp_id(instance),
        nats_url=f"nats://{nats_host}:{nats_port}",
        database_dsn=read_write_dsn([endpoints.proxies[f"{instance}->postgres"],
                                     endpoints.proxies[f"{instance}->postgres-replica"]],
                                    password=settings.database_password),
        market_data=market_data_config(instance, settings, endpoints),
        defects=settings.defects,
        **oms_venue_fields(settings),
    )


def failover_config(settings: StackSettings, endpoints: StackEndpoints) -> FailoverConfig:
    """The failover daemon: the primary's deep health from two vantages, the DR instance to promote."""
    vantages = tuple(f"http://{endpoints.proxies[hop]}/health/deep"
                     for hop in ("failover->oms-primary", "witness->oms-primary"))
    dr = endpoints.proxies["failover->oms-dr"]
    nats_host, nats_port = proxy_address(endpoints, "failover->nats")
    return FailoverConfig(
        http_port=0,
        primary_health_urls=vantages,
        dr_admin_url=f"http://{dr}",
        candidate_admin_urls=(f"http://{dr}", f"http://{endpoints.proxies['failover->oms-primary']}"),
        admin_token=settings.admin_token,
        nats_url=f"nats://{nats_host}:{nats_port}",
        defects=settings.defects,
    )


# --- market data (issue 16) -------------------------------------------------------------------


def market_data_section(settings: StackSettings) -> MarketDataSection | None:
    """The scenario's ``stack.market_data``: the venue publishes these feeds, each OMS instance
    reaches each through its own hop (``<instance>->feed-<name>``) and trades on them. None (the
    default): no feed, no hop, no pricing — the stack as it always was."""
    section = None if settings.deployment is None else settings.deployment.market_data
    return section if isinstance(section, MarketDataSection) else None


def feed_hops(settings: StackSettings) -> tuple[Hop, ...]:
    return topology(settings.preset).feed_hops if market_data_section(settings) is not None else ()


def venue_feeds(section: MarketDataSection | None) -> tuple[FeedConfig, ...]:
    if section is None:
        return ()
    rate = {} if section.updates_per_s is None else {"updates_per_s": section.updates_per_s}
    return tuple(FeedConfig(name=feed, **rate) for feed in section.feeds)


def feed_upstreams(section: MarketDataSection | None, venue_ports: Mapping[str, int]) -> dict[str, str]:
    """Each feed hop's destination (``feed-a``) -> the venue's port for it (READY's ``feed_a``)."""
    if section is None:
        return {}
    return {feed_hop_destination(feed): f"127.0.0.1:{venue_ports[f'feed_{feed.lower()}']}"
            for feed in section.feeds}


def market_data_config(
    instance: str, settings: StackSettings, endpoints: StackEndpoints
) -> MarketDataConfig | None:
    section = market_data_section(settings)
    if section is None:
        return None
    hops = {feed: hop_name(instance, feed_hop_destination(feed)) for feed in section.feeds}
    missing = sorted(hop for hop in hops.values() if hop not in endpoints.proxies)
    if missing:
        raise StackError(f"preset {settings.preset} has no market-data hop {', '.join(missing)} "
                         f"(its feed hops: {', '.join(h.name for h in feed_hops(settings)) or 'none'})")
    return section.config({feed: f"ws://{endpoints.proxies[hop]}/md" for feed, hop in hops.items()})
