"""A request's preamble: the part of its prompt that many requests share (pure).

The preamble is the system prompt and every message before the last user message (few-shot
examples, earlier turns), in order. Requests of one application usually repeat it word for
word, which is what prompt caching makes cheaper and what is worth shortening first. Its
fingerprint (a hash of the canonical text) is what the gateway sums per day; the text itself is
kept once per fingerprint when ``analytics.store_prompts`` is on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EXCERPT_CHARS = 120


@dataclass(frozen=True, slots=True)
class Preamble:
    fingerprint: str
    text: str
    tokens: int

    @property
    def excerpt(self) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return "\n".join(
            str(part.get("text") or "") if isinstance(part, Mapping) else str(part)
            for part in value
        )
    return "" if value is None else str(value)


def preamble_text(messages: Sequence[Mapping[str, Any]], system: Any = None) -> str:
    """The preamble as one canonical text ("" when the request has none)."""
    last_user = max(
        (i for i, m in enumerate(messages) if m.get("role") == "user"), default=len(messages)
    )
    parts = [f"system: {_content(system)}"] if system else []
    parts += [f"{m.get('role')}: {_content(m.get('content'))}" for m in messages[:last_user]]
    return "\n\n".join(parts)


def fingerprint(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
