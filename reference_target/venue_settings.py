"""A scenario's ``stack.venue`` as the reference stack's venue and OMS configurations.

Session setup (seed 002: "Time to establish new exchange sessions: 2-5 seconds"): the venue makes
a session set up once trading has begun wait (``mock_exchange.session_setup``; start-of-day
sessions do not, so a cold start stays fast). The reference stack chooses it per scenario:
``stack.venue.session_setup`` when given; else, across regions (``stack.regions``), seed 002's
:data:`CROSS_REGION_SESSION_SETUP_S` (which every pair's failover budget includes) plus the
handshakes' round trips over the WAN that the proxied hop does not carry (no TLS runs here, and
the TCP connect ends at a local proxy); else none, so the single-region rows keep the timings they
were calibrated with. Each OMS then awaits the Logon's answer long enough to outlast it.

The published order rate limit (``stack.venue.order_rate_limit``) is the venue's, and each OMS is
given the same numbers: its client-side throttle is sized from them.
"""

from __future__ import annotations

from typing import Any

from gameday.scenario.deploy_spec import VenueSpec
from gameday.stack.settings import StackSettings

__all__ = ["CROSS_REGION_SESSION_SETUP_S", "oms_venue_fields", "session_setup_s", "venue_fields"]

CROSS_REGION_SESSION_SETUP_S = 2.5
"""the venue's share of seed 002's 2-5 s to establish a new exchange session from the DR region:
the lower half, since the handshakes' WAN round trips come on top and each pair's whole budget
(us-west-2: 5-8 s) must also hold the detection and the reconciliation"""
HANDSHAKE_ROUND_TRIPS = 3
"""TCP (1) and TLS 1.2 (2) before the Logon, whose own round trip crosses the proxied hop"""
LOGON_SLACK_S = 2.0
"""what an OMS waits for the Logon's answer beyond the venue's session setup"""
VENUE_LOGON_TIMEOUT_S = 10.0
"""the venue's own default: a connection that has not logged on by then is closed"""


def _spec(settings: StackSettings) -> VenueSpec | None:
    return None if settings.deployment is None else settings.deployment.venue


def session_setup_s(settings: StackSettings) -> float:
    spec = _spec(settings)
    if spec is not None and spec.session_setup is not None:
        return spec.session_setup.seconds
    if not settings.cross_region_rtt_ms:
        return 0.0
    return CROSS_REGION_SESSION_SETUP_S + HANDSHAKE_ROUND_TRIPS * settings.cross_region_rtt_ms / 1000


def venue_fields(settings: StackSettings) -> dict[str, Any]:
    """``VenueConfig`` fields for the scenario's venue: fill markets, session setup, rate limit."""
    setup_s = session_setup_s(settings)
    fields: dict[str, Any] = {"session_setup_s": setup_s,
                              "logon_timeout_s": max(VENUE_LOGON_TIMEOUT_S, setup_s + LOGON_SLACK_S)}
    spec = _spec(settings)
    if spec is not None:
        fields.update(spec.model_dump(include={"markets", "max_fill_lots"}))
        if spec.order_rate_limit is not None:
            fields["order_rate_limit"] = spec.order_rate_limit.model_dump()
    return fields


def oms_venue_fields(settings: StackSettings) -> dict[str, Any]:
    """``OmsConfig`` fields: a Logon timeout that outlasts the session setup, the published limit."""
    fields: dict[str, Any] = {}
    setup_s = session_setup_s(settings)
    if setup_s > 0:
        fields["fix_logon_timeout_s"] = setup_s + LOGON_SLACK_S
    spec = _spec(settings)
    if spec is not None and spec.order_rate_limit is not None:
        fields["venue_rate_limit"] = spec.order_rate_limit.model_dump(include={"max_orders", "window_s"})
    return fields
