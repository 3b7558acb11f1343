"""The venue's WebSocket JSON API (crypto-venue style), over the same matching engine as FIX."""

from mock_exchange.ws.gateway import WsGateway

__all__ = ["WsGateway"]
