"""JSON responses serialized with orjson; money travels as exact decimal strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from starlette.responses import JSONResponse


def money(value: Decimal | None) -> str | None:
    """A Decimal as plain decimal text (no exponent), the wire format of every amount."""
    return None if value is None else format(value.normalize(), "f")


class FastJSONResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
