"""Token usage as the upstreams report it, read into one shape and written back out.

OpenAI's ``prompt_tokens`` already include the cached ones; Anthropic's ``input_tokens`` do not
(cache reads and cache writes are reported beside them). ``Usage.input_tokens`` follows OpenAI
and the price catalog: it is every input token, cached reads and cache writes included.

A report that cannot be believed (a count missing, negative, not an integer, or a part larger
than its whole) reads as ``None``: "not reported", so the gateway counts the tokens itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call. ``input_tokens`` includes ``cached_input_tokens`` (cache reads) and
    ``cache_write_tokens``; ``output_tokens`` includes ``reasoning_tokens``."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def uncached_input_tokens(self) -> int:
        return self.input_tokens - self.cached_input_tokens - self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class _Unusable(Exception):
    """A count in a usage report is present but not a non-negative integer."""


def _count(report: Mapping[str, Any], key: str, *, required: bool = False) -> int:
    value = report.get(key)
    if value is None:
        if required:
            raise _Unusable(key)
        return 0
    # bool is an int subclass; ``True`` tokens is not a count.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Unusable(key)
    return value


def _details(report: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = report.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Unusable(key)
    return value


def _consistent(usage: Usage) -> Usage | None:
    if usage.cached_input_tokens + usage.cache_write_tokens > usage.input_tokens:
        return None
    if usage.reasoning_tokens > usage.output_tokens:
        return None
    return usage


def usage_from_openai(report: Any) -> Usage | None:
    """Read an OpenAI ``usage`` object (``prompt_tokens``, ``completion_tokens``, and the
    optional ``prompt_tokens_details.cached_tokens`` and
    ``completion_tokens_details.reasoning_tokens``)."""
    if not isinstance(report, Mapping):
        return None
    try:
        usage = Usage(
            input_tokens=_count(report, "prompt_tokens", required=True),
            output_tokens=_count(report, "completion_tokens", required=True),
            cached_input_tokens=_count(_details(report, "prompt_tokens_details"), "cached_tokens"),
            reasoning_tokens=_count(
                _details(report, "completion_tokens_details"), "reasoning_tokens"
            ),
        )
    except _Unusable:
        return None
    return _consistent(usage)


def usage_from_anthropic(report: Any) -> Usage | None:
    """Read an Anthropic ``usage`` object (``input_tokens``, ``output_tokens``, and the optional
    ``cache_read_input_tokens`` and ``cache_creation_input_tokens``)."""
    if not isinstance(report, Mapping):
        return None
    try:
        uncached = _count(report, "input_tokens", required=True)
        output = _count(report, "output_tokens", required=True)
        cache_read = _count(report, "cache_read_input_tokens")
        cache_write = _count(report, "cache_creation_input_tokens")
    except _Unusable:
        return None
    return Usage(
        input_tokens=uncached + cache_read + cache_write,
        output_tokens=output,
        cached_input_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def usage_to_openai(usage: Usage) -> dict[str, Any]:
    """The OpenAI ``usage`` object. OpenAI has no field for cache writes: they stay counted in
    ``prompt_tokens`` only."""
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def usage_to_anthropic(usage: Usage) -> dict[str, Any]:
    """The Anthropic ``usage`` object. Anthropic has no field for reasoning tokens: they stay
    counted in ``output_tokens`` only."""
    return {
        "input_tokens": usage.uncached_input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
    }
