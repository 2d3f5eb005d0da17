"""What a request needs from a model (capabilities, context) and whether a model can serve it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from thrifty.routing.models import ModelProfile
from thrifty.routing.tasks import Capability

_IMAGE_PARTS = frozenset({"image_url", "image", "input_image"})


def required_capabilities(
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    response_format: Mapping[str, Any] | None = None,
) -> frozenset[Capability]:
    """Capabilities a request uses: tools, images (vision), JSON mode."""
    needed: set[Capability] = set()
    if tools:
        needed.add(Capability.TOOLS)
    if response_format and response_format.get("type") in ("json_object", "json_schema"):
        needed.add(Capability.JSON)
    if any(_has_image(message) for message in messages):
        needed.add(Capability.VISION)
    return frozenset(needed)


def _has_image(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    if not isinstance(content, list):
        return False
    return any(isinstance(part, Mapping) and part.get("type") in _IMAGE_PARTS for part in content)


def unfit_reason(
    profile: ModelProfile,
    needed: frozenset[Capability],
    input_tokens: int,
    max_tokens: int | None,
) -> str | None:
    """Why ``profile`` cannot serve the request, or None when it can."""
    if needed and not needed <= profile.capabilities:
        missing = min(needed - profile.capabilities)
        return f"no {missing.value} support"
    limit = profile.max_output_tokens
    if max_tokens is not None and limit is not None and max_tokens > limit:
        return f"max_tokens {max_tokens} exceeds output limit {limit}"
    needed_tokens = input_tokens + (max_tokens or 1)
    if needed_tokens > profile.context_window:
        return f"needs {needed_tokens} tokens, context window {profile.context_window}"
    return None
