"""The OMS's deploy roles (docs/deploy.md §2.2-§2.3): a launched instance computing in the dark
(shadow) and an instance stepping aside (parked). Part of :class:`~trading_stack.oms.Oms`."""

from __future__ import annotations

from typing import Protocol

from trading_stack.book import Book
from trading_stack.oms_lease import LeaseGuard, PromotionTask
from trading_stack.oms_session import VenueLink
from trading_stack.oms_streams import OmsStreams
from trading_stack.roles import Role, RoleMachine, SendPolicy


class DeployHost(Protocol):
    """What the deploy roles need of the OMS."""

    @property
    def roles(self) -> RoleMachine: ...

    @property
    def book(self) -> Book: ...

    @property
    def promotion(self) -> PromotionTask: ...

    @property
    def guard(self) -> LeaseGuard: ...

    @property
    def link(self) -> VenueLink: ...

    @property
    def streams(self) -> OmsStreams: ...

    def publish_role(self, reason: str) -> None: ...


class DeployRoles:
    """The role changes a deployer asks for besides a promotion."""

    def __init__(self, host: DeployHost) -> None:
        self._host = host

    async def shadow(self) -> None:
        """A launched instance books the stream's fills and publishes what it would have done."""
        host = self._host
        await host.streams.ready.wait()
        host.roles.shadow()
        host.publish_role(f"shadow ({host.book.version})")
        await host.streams.start_shadow()
        await host.link.log_on()

    async def park(self) -> None:
        """Step aside for a deploy: no lease, no venue session, no feed; the book is kept."""
        host = self._host
        if host.roles.role is Role.PARKED:
            return
        host.promotion.cancel()
        host.guard.stop_watch()
        host.link.policy = SendPolicy.QUERIES
        await host.streams.stop_feeds()
        await host.link.close()
        await host.guard.hand_back()
        host.roles.park()
        host.publish_role("parked")
