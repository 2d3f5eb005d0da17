"""Server-sent events as the OpenAI and Anthropic APIs frame them (encoding only)."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def data_event(payload: Any) -> bytes:
    """``data: {json}`` and a blank line: one OpenAI stream chunk."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def named_event(name: str, payload: Any) -> bytes:
    """``event: name``, ``data: {json}`` and a blank line: one Anthropic stream event."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
