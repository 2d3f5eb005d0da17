"""Estimates of one request across several registered models, and the cheapest fit among them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from thrifty.pricing.catalog import CatalogRef
from thrifty.pricing.estimate import Estimate, PricedRequest, count_input, estimate_cost
from thrifty.pricing.tokens import TokenCount, encoding_for_model
from thrifty.routing.models import ModelProfile
from thrifty.routing.needs import required_capabilities, unfit_reason
from thrifty.routing.registry import ModelRegistry


@dataclass(frozen=True, slots=True)
class ModelEstimate:
    model: str
    estimate: Estimate
    price_source: str
    unfit: str | None  # why the model cannot serve the request; None when it can


def tokenizer_model(profile: ModelProfile) -> str:
    """The model name whose tokenizer counts this profile's tokens."""
    return _tokenizer_model(profile.catalog_id, profile.upstream_model)


@lru_cache(maxsize=4096)
def _tokenizer_model(catalog_id: str | None, upstream_model: str) -> str:
    return CatalogRef.parse(catalog_id).model if catalog_id else upstream_model


def estimate_across(
    request: PricedRequest,
    model_ids: Iterable[str],
    registry: ModelRegistry,
    at: datetime,
    *,
    field: str = "alternatives",
) -> list[ModelEstimate]:
    """One estimate per model (in the given order, duplicates dropped)."""
    needed = required_capabilities(request.messages, tools=request.tools)
    counts: dict[str, TokenCount] = {}
    results: list[ModelEstimate] = []
    seen: set[str] = set()
    for model_id in model_ids:
        if model_id in seen:
            continue
        seen.add(model_id)
        profile = registry.get(model_id, field=field)
        name = tokenizer_model(profile)
        encoding = encoding_for_model(name)
        tokens = counts.get(encoding)
        if tokens is None:
            tokens = counts[encoding] = count_input(request, name)
        price = registry.price_of(model_id, at)
        estimate = estimate_cost(
            request, price.price, tokens, max_output_tokens=profile.max_output_tokens
        )
        unfit = unfit_reason(profile, needed, tokens.tokens, request.max_tokens)
        results.append(ModelEstimate(model_id, estimate, price.source.value, unfit))
    return results


def cheapest_fit(estimates: Sequence[ModelEstimate]) -> str | None:
    """The model with the lowest expected cost among those that can serve the request."""
    fitting = [e for e in estimates if e.unfit is None]
    if not fitting:
        return None
    return min(fitting, key=lambda e: (e.estimate.cost, e.model)).model


@dataclass(slots=True)
class ModelTotal:
    """Running totals of many requests' estimates on one model."""

    requests: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)


def accumulate(totals: dict[str, ModelTotal], estimates: Sequence[ModelEstimate]) -> None:
    for item in estimates:
        total = totals.setdefault(item.model, ModelTotal())
        total.requests += 1
        total.tokens += item.estimate.total_tokens
        total.cost += item.estimate.cost
