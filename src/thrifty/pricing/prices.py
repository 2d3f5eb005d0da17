"""Prices: a model's price per million tokens, and a timeline of prices with effective dates.

A price in force at a moment is the latest point whose ``effective_from`` is not after it; at
equal dates a price set through the API wins over one from the config file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from genai_prices.types import ModelPrice

#: The start of every timeline: a config price with no date is in force from the beginning.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


class PriceSource(StrEnum):
    CONFIG = "config"
    API = "api"
    WEBHOOK = "webhook"
    CATALOG = "catalog"


_SOURCE_RANK = {
    PriceSource.CATALOG: 0,
    PriceSource.CONFIG: 1,
    PriceSource.WEBHOOK: 2,
    PriceSource.API: 3,
}


@dataclass(frozen=True, slots=True)
class PriceSpec:
    """USD per million tokens; optional prices fall back as the catalog does (cached → input)."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None

    def to_model_price(self) -> ModelPrice:
        """The catalog's price object for this spec (one shared object per spec)."""
        return _model_price(self)

    def _build(self) -> ModelPrice:
        kwargs: dict[str, Decimal] = {
            "input_mtok": self.input_per_mtok,
            "output_mtok": self.output_per_mtok,
        }
        if self.cached_input_per_mtok is not None:
            kwargs["cache_read_mtok"] = self.cached_input_per_mtok
        if self.cache_write_per_mtok is not None:
            kwargs["cache_write_mtok"] = self.cache_write_per_mtok
        return ModelPrice(**kwargs)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "input_per_mtok": _text(self.input_per_mtok),
            "output_per_mtok": _text(self.output_per_mtok),
            "cached_input_per_mtok": _text(self.cached_input_per_mtok),
            "cache_write_per_mtok": _text(self.cache_write_per_mtok),
        }


@dataclass(frozen=True, slots=True)
class PricePoint:
    """A price that is in force from ``effective_from`` until a later point replaces it."""

    effective_from: datetime
    spec: PriceSpec
    source: PriceSource


@lru_cache(maxsize=4096)
def _model_price(spec: PriceSpec) -> ModelPrice:
    return spec._build()


def price_in_force(points: Sequence[PricePoint], at: datetime) -> PricePoint | None:
    """The point in force at ``at``: latest effective date, API over config on a tie."""
    best: PricePoint | None = None
    for point in points:
        if point.effective_from > at:
            continue
        if best is None or (point.effective_from, _SOURCE_RANK[point.source]) > (
            best.effective_from,
            _SOURCE_RANK[best.source],
        ):
            best = point
    return best


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
