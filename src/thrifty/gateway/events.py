"""Server-sent events: parse an upstream's stream, format the client's stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Event:
    """One SSE event: ``event`` is the type line (Anthropic), ``data`` the raw data text."""

    event: str | None
    data: str

    def json(self) -> Any:
        return orjson.loads(self.data)


async def parse_events(lines: AsyncIterator[str]) -> AsyncIterator[Event]:
    """Events from an SSE body, given its lines (without line endings)."""
    event: str | None = None
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield Event(event, "\n".join(data))
            event, data = None, []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("event:"):
            event = line[6:].strip()
        # comments (":") and other fields (id, retry) are ignored
    if data:
        yield Event(event, "\n".join(data))


def openai_chunk(data: Any) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


OPENAI_DONE = b"data: [DONE]\n\n"


def anthropic_event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
