"""Prices as JSON: exact decimal strings, tiered prices with their tiers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from genai_prices.types import ModelPrice, TieredPrices

from thrifty.api.responses import money
from thrifty.pricing.catalog import ResolvedPrice

_FIELDS = {
    "input_per_mtok": "input_mtok",
    "output_per_mtok": "output_mtok",
    "cached_input_per_mtok": "cache_read_mtok",
    "cache_write_per_mtok": "cache_write_mtok",
}


def _value(value: Decimal | TieredPrices | None) -> Any:
    if isinstance(value, TieredPrices):
        return {
            "base": money(value.base),
            "tiers": [{"start_tokens": t.start, "price": money(t.price)} for t in value.tiers],
        }
    return money(value)


def price_json(price: ModelPrice) -> dict[str, Any]:
    return {ours: _value(getattr(price, theirs, None)) for ours, theirs in _FIELDS.items()}


def resolved_json(resolved: ResolvedPrice) -> dict[str, Any]:
    return price_json(resolved.price) | {
        "source": resolved.source.value,
        "effective_from": resolved.effective_from.isoformat() if resolved.effective_from else None,
        "catalog_ref": resolved.catalog_ref,
    }
