from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from genai_prices import calc_price
from genai_prices.types import Usage

from thrifty.errors import PricingError
from thrifty.pricing.catalog import CatalogRef, TokenUsage, cost_of, lookup, resolve_price, search
from thrifty.pricing.prices import BEGINNING, PricePoint, PriceSource, PriceSpec, price_in_force

AT = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ref", "usage"),
    [
        ("openai/gpt-4o", TokenUsage(1234, 567, cached_input_tokens=200)),
        ("openai/gpt-4o-mini", TokenUsage(10_000, 1)),
        ("anthropic/claude-sonnet-4-5", TokenUsage(250_000, 1000, cache_write_tokens=5000)),
        ("google/gemini-2.5-pro", TokenUsage(300_000, 20_000)),
        ("groq/llama-3.1-8b-instant", TokenUsage(7, 3)),
    ],
)
def test_costs_match_the_catalog_to_the_last_digit(ref: str, usage: TokenUsage) -> None:
    parsed = CatalogRef.parse(ref)
    ours = cost_of(resolve_price("m", [], parsed, AT).price, usage)
    theirs = calc_price(
        Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cached_input_tokens or None,
            cache_write_tokens=usage.cache_write_tokens or None,
        ),
        parsed.model,
        provider_id=parsed.provider,
        genai_request_timestamp=AT,
    ).total_price
    assert ours == theirs
    assert isinstance(ours, Decimal)


def test_gpt_4o_price_by_hand() -> None:
    price = resolve_price("m", [], CatalogRef.parse("openai/gpt-4o"), AT).price
    # 800 fresh input at $2.5/M + 200 cached at $1.25/M + 500 output at $10/M
    assert cost_of(price, TokenUsage(1000, 500, cached_input_tokens=200)) == Decimal("0.00725")


def test_tiered_price_applies_above_the_tier() -> None:
    price = resolve_price("m", [], CatalogRef.parse("anthropic/claude-sonnet-4-5"), AT).price
    below = cost_of(price, TokenUsage(200_000, 0))
    above = cost_of(price, TokenUsage(200_001, 0))
    assert below == Decimal("0.6")  # 200k × $3/M
    assert above == Decimal("1.200006")  # the whole request at the $6/M tier


def test_override_timeline_beats_catalog_and_keeps_history() -> None:
    ref = CatalogRef.parse("openai/gpt-4o")
    config = PricePoint(BEGINNING, PriceSpec(Decimal("2"), Decimal("8")), PriceSource.CONFIG)
    change = AT + timedelta(days=10)
    api = PricePoint(change, PriceSpec(Decimal("1"), Decimal("4")), PriceSource.API)
    usage = TokenUsage(1_000_000, 0)
    before = resolve_price("m", [config, api], ref, AT)
    after = resolve_price("m", [config, api], ref, change)
    assert cost_of(before.price, usage) == Decimal(2)
    assert cost_of(after.price, usage) == Decimal(1)
    assert after.source is PriceSource.API
    assert resolve_price("m", [], ref, AT).source is PriceSource.CATALOG


def test_api_beats_config_on_the_same_date() -> None:
    config = PricePoint(BEGINNING, PriceSpec(Decimal(2), Decimal(8)), PriceSource.CONFIG)
    api = PricePoint(BEGINNING, PriceSpec(Decimal(1), Decimal(4)), PriceSource.API)
    assert price_in_force([api, config], AT) == api
    assert price_in_force([config, api], AT) == api


def test_future_only_prices_fall_back_to_catalog() -> None:
    future = PricePoint(AT + timedelta(days=1), PriceSpec(Decimal(1), Decimal(1)), PriceSource.API)
    assert (
        resolve_price("m", [future], CatalogRef.parse("openai/gpt-4o"), AT).source
        is PriceSource.CATALOG
    )


def test_unknown_model_without_override_is_a_pricing_error() -> None:
    with pytest.raises(PricingError, match="no price known"):
        resolve_price("m", [], CatalogRef.parse("nobody/knows-this-model"), AT)
    with pytest.raises(PricingError):
        resolve_price("m", [], None, AT)


def test_catalog_is_large_and_searchable() -> None:
    assert lookup(CatalogRef.parse("anthropic/claude-haiku-4-5")) is not None
    assert CatalogRef.parse("meta-llama/Llama-3-8b").provider is None
    assert len(search("gpt", limit=1000)) > 20
    assert search("claude-haiku-4-5")[0].provider in {"anthropic", "aws", "openrouter", "google"}
