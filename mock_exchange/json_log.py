"""The venue's log lines: one JSON object per line (docs/contracts.md, "Observability").

The same schema as the trading stack's (``ts``, ``level``, ``service``, ``instance``, ``event``,
``msg`` and the order's keys where they apply); the venue never knows a correlation id, so its
order lines carry ``cl_ord_id``, ``order_id`` and ``exec_id`` for a reader to join on.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

ORDER_KEYS = ("cl_ord_id", "order_id", "exec_id", "symbol", "side", "qty")
_BASE_KEYS = frozenset({"ts", "level", "service", "instance", "event", "msg", "exc", "corr", *ORDER_KEYS})


class JsonFormatter(logging.Formatter):
    def __init__(self, instance: str) -> None:
        super().__init__()
        self._instance = instance

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "event", None) or record.name.rsplit(".", 1)[-1]
        line: dict[str, Any] = {"ts": record.created, "level": record.levelname.lower(), "service": "venue",
                                "instance": self._instance, "event": event, "msg": record.getMessage()}
        for key in ORDER_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        detail = getattr(record, "detail", None)
        if isinstance(detail, Mapping):
            line.update((str(k), v) for k, v in detail.items() if k not in _BASE_KEYS)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(instance: str, level: int | str = logging.INFO, stream: TextIO | None = None) -> None:
    """Every record of the process as a JSON line on ``stream`` (stderr), replacing other handlers."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(instance))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
