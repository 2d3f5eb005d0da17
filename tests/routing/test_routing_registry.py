"""The registry's remembered prices follow the price timeline exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from thrifty.pricing.prices import BEGINNING, PricePoint, PriceSource, PriceSpec
from thrifty.routing.models import ModelProfile
from thrifty.routing.registry import ModelRegistry

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _point(at: datetime, price: str, source: PriceSource = PriceSource.API) -> PricePoint:
    return PricePoint(at, PriceSpec(Decimal(price), Decimal(price)), source)


def test_a_remembered_price_ends_where_the_next_one_starts() -> None:
    later = NOW + timedelta(seconds=30)
    profile = ModelProfile("m", "sim", "m", 1000)
    registry = ModelRegistry.build(
        [profile], {"m": [_point(BEGINNING, "1", PriceSource.CONFIG), _point(later, "2")]}
    )
    first = registry.price_of("m", NOW).price
    assert first.input_mtok == Decimal(1)
    assert registry.price_of("m", later - timedelta(microseconds=1)).price is first
    assert registry.price_of("m", later).price.input_mtok == Decimal(2)
    assert registry.price_of("m", NOW).price.input_mtok == Decimal(1)  # and back


def test_catalog_prices_with_conditions_are_not_remembered() -> None:
    # DeepSeek's catalog entry has time-of-day prices: each moment is resolved afresh.
    from thrifty.pricing.catalog import CatalogRef, price_validity

    assert price_validity((), CatalogRef("deepseek-chat", "deepseek"), NOW) is None
    assert price_validity((), CatalogRef("gpt-4o", "openai"), NOW) == (None, None)
