"""The task types a request can be classified as; model quality is scored per task type."""

from __future__ import annotations

from enum import StrEnum


class TaskType(StrEnum):
    CHAT = "chat"
    CODE = "code"
    MATH = "math"
    REASONING = "reasoning"
    SUMMARISATION = "summarisation"
    EXTRACTION = "extraction"
    CLASSIFICATION = "classification"
    TRANSLATION = "translation"
    CREATIVE_WRITING = "creative_writing"


#: Keys allowed in a model's ``quality`` map: every task type plus the fallback ``default``.
QUALITY_KEYS: frozenset[str] = frozenset({"default", *(t.value for t in TaskType)})


class Capability(StrEnum):
    TOOLS = "tools"
    VISION = "vision"
    JSON = "json"
    STREAMING = "streaming"
    EMBEDDINGS = "embeddings"
    REASONING = "reasoning"
