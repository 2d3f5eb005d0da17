"""Selection strategies and quality requirements, shared by steering rules and model selection.

A quality requirement is the share of the best eligible candidate's expected quality that the
chosen model must reach: ``high`` (0.99) allows a model at most 1% worse than the best one.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType

from thrifty.errors import InvalidInput


class Strategy(StrEnum):
    CHEAPEST = "cheapest"
    FASTEST = "fastest"
    BALANCED = "balanced"
    QUALITY_FIRST = "quality-first"
    COST_AWARE = "cost-aware"


#: Named quality requirements → the share of the best candidate's quality to reach.
QUALITY_LEVELS: Mapping[str, float] = MappingProxyType({"low": 0.85, "medium": 0.95, "high": 0.99})

_EXPECTED = "must be low, medium or high, or a number 0 < x ≤ 1"


def parse_quality_requirement(value: object, *, field: str) -> float:
    """A level name (``low``/``medium``/``high``), a number or a numeric string in (0, 1]."""
    number: float | None = None
    hint = ""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in QUALITY_LEVELS:
            return QUALITY_LEVELS[text]
        try:
            number = float(Decimal(text))
        except InvalidOperation:
            close = difflib.get_close_matches(text, list(QUALITY_LEVELS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = float(value)
    if number is not None and math.isfinite(number) and 0 < number <= 1:
        return number
    raise InvalidInput(f"{field} {_EXPECTED}; got {value!r}{hint}", field=field)


__all__ = ["QUALITY_LEVELS", "Strategy", "parse_quality_requirement"]
