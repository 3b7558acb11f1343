"""Structured logs: one JSON object per line, and the correlation id that follows an order.

Every reference service calls :func:`configure_logging` once at its start. A line holds ``ts``
(epoch seconds), ``level``, ``service``, ``instance``, ``event`` (snake_case), ``msg`` and, where
they apply, the order's keys (:data:`ORDER_KEYS`); ``detail`` (a mapping) adds keys of its own
(never over the ones above). Lines logged without an ``event`` are named after their module.

The correlation id of a client request (its ``X-Correlation-Id`` header when valid, else a new
one) is held in :data:`current_corr` while the request is handled, so every line logged on its
way carries it; an order keeps it (``Order.corr``) for what happens to it later (reports, fills,
the store, another instance). See docs/contracts.md, "Observability".
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, TextIO

__all__ = ["CORR_HEADER", "ORDER_KEYS", "JsonFormatter", "configure_logging", "corr_from_header",
           "current_corr", "log_event", "new_corr", "valid_corr"]

CORR_HEADER = "X-Correlation-Id"
ORDER_KEYS = ("corr", "cl_ord_id", "order_id", "exec_id", "symbol", "side", "qty")
_BASE_KEYS = frozenset({"ts", "level", "service", "instance", "event", "msg", "exc", *ORDER_KEYS})
_CORR = re.compile(r"[A-Za-z0-9._:-]{1,64}")

current_corr: ContextVar[str | None] = ContextVar("current_corr", default=None)


def valid_corr(value: object) -> bool:
    """At most 64 characters of ``[A-Za-z0-9._:-]`` (safe in a log line, a header and a label)."""
    return isinstance(value, str) and _CORR.fullmatch(value) is not None


def new_corr() -> str:
    return secrets.token_hex(8)


def corr_from_header(value: str | None) -> str:
    """The client's id when it is valid, else a new one."""
    return value if value is not None and valid_corr(value) else new_corr()


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, instance: str) -> None:
        super().__init__()
        self._service = service
        self._instance = instance

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "service": self._service,
            "instance": self._instance,
            "event": getattr(record, "event", None) or record.name.rsplit(".", 1)[-1],
            "msg": record.getMessage(),
        }
        for key in ORDER_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if "corr" not in line:
            corr = current_corr.get()
            if corr is not None:
                line["corr"] = corr
        detail = getattr(record, "detail", None)
        if isinstance(detail, Mapping):
            line.update((str(k), v) for k, v in detail.items() if k not in _BASE_KEYS)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service: str, instance: str, level: int = logging.INFO,
                      stream: TextIO | None = None) -> None:
    """Every record of the process as a JSON line on ``stream`` (stderr), replacing other handlers."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(service, instance))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def log_event(logger: logging.Logger, event: str, msg: str, *, level: int = logging.INFO,
              detail: Mapping[str, Any] | None = None, **keys: Any) -> None:
    """One structured line: ``event``, ``msg``, the order's ``keys`` (see :data:`ORDER_KEYS`)."""
    if not logger.isEnabledFor(level):
        return
    unknown = set(keys) - set(ORDER_KEYS)
    if unknown:
        raise TypeError(f"not an order key: {sorted(unknown)}")
    logger.log(level, msg, extra={"event": event, "detail": detail, **keys})
