"""Errors the HTTP API turns into responses.

    ApiError            -- an expected failure with an HTTP status and Toxiproxy's message
    ├── BadRequest      -- 400
    ├── NotFound        -- 404
    ├── Conflict        -- 409
    └── TooLarge        -- 413 (a request body over the limit; real Toxiproxy has none)

Anything else raised while serving a request (a bind or resolve failure) is a 500 carrying the
raw message, as Toxiproxy does. A client's mistake is never a 500: what the API accepts is
checked first (:mod:`gameday.proxy.limits`).
"""

from __future__ import annotations


class ApiError(Exception):
    """A failure the API reports as ``{"error": message, "status": status}``."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    status = 400


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooLarge(ApiError):
    status = 413


def bad_body(detail: str) -> BadRequest:
    return BadRequest(f"bad request body: {detail}")


def missing_field(field: str) -> BadRequest:
    return BadRequest(f"missing required field: {field}")


PROXY_NOT_FOUND = "proxy not found"
PROXY_EXISTS = "proxy already exists"
TOXIC_NOT_FOUND = "toxic not found"
TOXIC_EXISTS = "toxic already exists"
INVALID_STREAM = "stream was invalid, can be either upstream or downstream"
INVALID_TOXIC_TYPE = "invalid toxic type"
