"""What every JSON API of the reference stack shares: typed bodies and the admin token."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

Body = TypeVar("Body", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def parse_body(
    request: web.Request, model: type[Body], invalid: str = "invalid body"
) -> Body | web.Response:
    """The request's JSON body as ``model``, or the 422 answer that says why it is not one."""
    try:
        return model.model_validate(await request.json())
    except ValidationError as err:
        detail = err.errors(include_url=False, include_context=False)
        return web.json_response({"error": invalid, "detail": detail}, status=422)
    except ValueError:
        return web.json_response({"error": "body is not JSON"}, status=422)


def token_guard(token: str) -> Callable[[Handler], Handler]:
    """A decorator answering 401 unless the request carries ``Authorization: Bearer <token>``."""
    expected = f"Bearer {token}".encode()

    def guard(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
                return web.json_response({"error": "unauthorized"}, status=401)
            return await handler(request)

        return guarded

    return guard
