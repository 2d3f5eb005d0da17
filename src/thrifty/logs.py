"""Structured logs: one JSON object a line, carrying the gateway request being served.

``configure(format, level)`` is called once per process (``thrifty serve`` and each worker).
With ``json`` (the default) every record of the ``thrifty`` loggers is written as
``{"time", "level", "logger", "message", "request_id", …}`` plus the fields a call passes in
``extra``; ``text`` is the plain one-line format for a terminal. The request id is the
``x-thrifty-request-id`` the gateway answers with, set when the gateway names the request.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("thrifty_request_id", default=None)
FORMATS = ("json", "text")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": REQUEST_ID.get(),
        }
        body.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure(format: str = "json", level: str = "info") -> None:
    """Send the ``thrifty`` loggers to standard error in ``format`` from ``level`` on."""
    handler = logging.StreamHandler(sys.stderr)
    if format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("thrifty")
    logger.handlers = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
