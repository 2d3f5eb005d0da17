"""The price catalog: genai-prices' bundled data, overridden by config and API prices.

Resolution for a model at a moment: the override timeline first (config and API price points,
see ``prices.price_in_force``), then the catalog entry the model refers to, priced as of that
moment (the catalog has dated prices of its own). Nothing here reads the network or the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from genai_prices import data_snapshot
from genai_prices.types import ModelInfo, ModelPrice

from thrifty.errors import PricingError
from thrifty.pricing.formula import TokenFormula, compile_formula, genai_cost
from thrifty.pricing.prices import PricePoint, PriceSource, price_in_force


@dataclass(frozen=True, slots=True)
class CatalogRef:
    """A reference into the catalog: an optional provider id and a model name."""

    model: str
    provider: str | None = None

    @classmethod
    def parse(cls, text: str) -> CatalogRef:
        """``"openai/gpt-4o"`` → provider openai; ``"gpt-4o"`` → any provider that knows it."""
        prefix, sep, rest = text.partition("/")
        if sep and prefix in _provider_ids():
            return cls(model=rest, provider=prefix)
        return cls(model=text)

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}" if self.provider else self.model


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens of one call. ``input_tokens`` includes cached reads and cache writes."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ResolvedPrice:
    price: ModelPrice
    source: PriceSource
    effective_from: datetime | None = None
    catalog_ref: str | None = None


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    provider: str
    model: str
    name: str
    context_window: int | None


@lru_cache(maxsize=1)
def _provider_ids() -> frozenset[str]:
    return frozenset(p.id for p in data_snapshot.get_snapshot().providers)


@lru_cache(maxsize=4096)
def _find(ref: CatalogRef) -> tuple[str, ModelInfo] | None:
    try:
        provider, model = data_snapshot.get_snapshot().find_provider_model(
            ref.model, None, ref.provider, None
        )
    except LookupError:
        return None
    return provider.id, model


def lookup(ref: CatalogRef) -> CatalogEntry | None:
    """The catalog entry a reference names, or None when the catalog does not know it."""
    found = _find(ref)
    if found is None:
        return None
    provider, model = found
    return CatalogEntry(provider, model.id, model.name or model.id, model.context_window)


def catalog_price(ref: CatalogRef, at: datetime) -> ModelPrice | None:
    """The catalog's price for ``ref`` in force at ``at`` (aware), or None if unknown."""
    found = _find(ref)
    if found is None:
        return None
    return found[1].get_prices(at)


def resolve_price(
    model_id: str,
    overrides: Sequence[PricePoint],
    catalog: CatalogRef | None,
    at: datetime,
) -> ResolvedPrice:
    """The price of ``model_id`` at ``at``: override timeline first, then the catalog."""
    point = price_in_force(overrides, at)
    if point is not None:
        return ResolvedPrice(point.spec.to_model_price(), point.source, point.effective_from)
    if catalog is not None:
        price = catalog_price(catalog, at)
        if price is not None:
            return ResolvedPrice(price, PriceSource.CATALOG, catalog_ref=str(catalog))
    hint = f" (catalog has no {catalog})" if catalog else ""
    raise PricingError(
        f"no price known for model {model_id!r}{hint}: set `price` or a `catalog_id`",
        field="price",
    )


def price_validity(
    overrides: Sequence[PricePoint], catalog: CatalogRef | None, at: datetime
) -> tuple[datetime | None, datetime | None] | None:
    """The interval ``[start, end)`` around ``at`` in which ``resolve_price`` gives the same
    answer (None bounds: open), or None when that cannot be known cheaply (a catalog price
    with conditions, such as time-of-day prices)."""
    starts = sorted({point.effective_from for point in overrides})
    later = next((start for start in starts if start > at), None)
    in_force = price_in_force(overrides, at)
    if in_force is not None:
        return in_force.effective_from, later
    if catalog is not None:
        found = _find(catalog)
        if found is not None and not isinstance(found[1].prices, ModelPrice):
            return None
    return None, later


_FORMULAS: dict[int, tuple[ModelPrice, TokenFormula | None]] = {}


def _formula(price: ModelPrice) -> TokenFormula | None:
    cached = _FORMULAS.get(id(price))
    if cached is not None and cached[0] is price:
        return cached[1]
    formula = compile_formula(price)
    if len(_FORMULAS) > 10_000:
        _FORMULAS.clear()
    _FORMULAS[id(price)] = (price, formula)
    return formula


def cost_of(price: ModelPrice, usage: TokenUsage) -> Decimal:
    """Exact USD cost of ``usage`` at ``price`` (tiers applied by total input tokens)."""
    args = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_input_tokens,
        usage.cache_write_tokens,
    )
    formula = _formula(price)
    if formula is None:
        return genai_cost(price, *args)
    return formula.cost(*args)


def costs_of(price: ModelPrice, input_tokens: int, outputs: tuple[int, ...]) -> list[Decimal]:
    """``cost_of`` for ``input_tokens`` with each of ``outputs`` output tokens (no cache use),
    the input priced once; equal to ``cost_of`` to the last digit."""
    formula = _formula(price)
    if formula is None:
        return [cost_of(price, TokenUsage(input_tokens, out)) for out in outputs]
    return formula.costs(input_tokens, outputs)


def cost_pair(
    price: ModelPrice, input_tokens: int, expected: int, worst: int
) -> tuple[Decimal, Decimal]:
    """``costs_of(price, input_tokens, (expected, worst))`` as a pair: the expected and the
    worst-case cost of one request, the hot path of selection."""
    cached = _FORMULAS.get(id(price))
    formula = cached[1] if cached is not None and cached[0] is price else _formula(price)
    if formula is None:
        first, second = costs_of(price, input_tokens, (expected, worst))
        return first, second
    return formula.pair(input_tokens, expected, worst)


def search(query: str, limit: int = 50) -> list[CatalogEntry]:
    """Catalog models whose id or name contains ``query`` (case-insensitive)."""
    needle = query.lower()
    found: list[CatalogEntry] = []
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            if needle in model.id.lower() or needle in (model.name or "").lower():
                found.append(
                    CatalogEntry(
                        provider.id, model.id, model.name or model.id, model.context_window
                    )
                )
                if len(found) >= limit:
                    return found
    return found


@dataclass(frozen=True, slots=True)
class CatalogPrice:
    provider: str
    model: str
    context_window: int | None
    price: ModelPrice


@lru_cache(maxsize=1)
def catalog_prices() -> tuple[CatalogPrice, ...]:
    """Every catalog model with one unconditional price (time-of-day and other conditional
    prices are left out), as ``provider/model``."""
    found = []
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            if isinstance(model.prices, ModelPrice):
                found.append(
                    CatalogPrice(provider.id, model.id, model.context_window, model.prices)
                )
    return tuple(found)
