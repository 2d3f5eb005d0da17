"""What a recorded workload would have cost on other models (pure).

A workload is the usage sums of one scope in a range, per model and task type
(``storage.rollups``), plus what its requests needed: capabilities (tools, vision, JSON mode)
and the largest context, from the stored decisions. Each group is repriced at its mean
request (so a tiered price applies the tier that request falls in) times its request count.
A model can take the workload when it has every capability some request needed and a context
window holding the largest request seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from genai_prices.types import ModelPrice

from thrifty.pricing.catalog import TokenUsage, cost_of


@dataclass(frozen=True, slots=True)
class Group:
    """Usage of one (model, task type) group."""

    model: str
    task_type: str
    requests: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    cost: Decimal  # what it did cost

    def mean_usage(self) -> TokenUsage:
        n = max(self.requests, 1)
        return TokenUsage(
            round(self.input_tokens / n),
            round(self.output_tokens / n),
            cached_input_tokens=round(self.cached_input_tokens / n),
        )


@dataclass(frozen=True, slots=True)
class Needs:
    """What the workload's requests needed (from its decisions; ``known`` False without)."""

    capabilities: frozenset[str] = frozenset()
    max_context_tokens: int = 0
    known: bool = False


@dataclass(frozen=True, slots=True)
class Offer:
    """One model able (or not) to take a workload."""

    model: str
    capabilities: frozenset[str]
    context_window: int | None
    price: ModelPrice
    source: str  # "registry" or "catalog"


@dataclass(frozen=True, slots=True)
class Repriced:
    model: str
    source: str
    cost: Decimal | None  # None when it cannot take the workload
    reason: str | None


def needs_of(profiles: Iterable[Mapping[str, Any]]) -> Needs:
    """The needs of decisions' request profiles (``RequestProfile.json()``)."""
    capabilities: set[str] = set()
    largest = 0
    seen = False
    for profile in profiles:
        seen = True
        capabilities.update(profile.get("needs") or ())
        largest = max(
            largest,
            int(profile.get("inputTokens") or 0)
            + int(profile.get("maxTokens") or profile.get("predictedOutputTokens") or 0),
        )
    return Needs(frozenset(capabilities), largest, seen)


def group_cost(group: Group, price: ModelPrice) -> Decimal:
    return cost_of(price, group.mean_usage()) * group.requests


def reprice(groups: Sequence[Group], offer: Offer, needs: Needs) -> Repriced:
    missing = sorted(needs.capabilities - offer.capabilities) if offer.source == "registry" else []
    if missing:
        return Repriced(offer.model, offer.source, None, f"no {missing[0]} support")
    window = offer.context_window
    if window is not None and needs.max_context_tokens > window:
        return Repriced(
            offer.model, offer.source, None,
            f"needs {needs.max_context_tokens} tokens, context window {window}",
        )  # fmt: skip
    return Repriced(offer.model, offer.source, sum((group_cost(g, offer.price) for g in groups),
                    Decimal(0)), None)  # fmt: skip


def compare(
    groups: Sequence[Group], offers: Iterable[Offer], needs: Needs
) -> tuple[list[Repriced], Decimal | None]:
    """Every offer's cost of the workload (cheapest first, those that cannot take it last),
    and the workload's percentile among those that can: the share (0–100) of them that would
    have cost less than it did."""
    repriced = [reprice(groups, offer, needs) for offer in offers]
    repriced.sort(key=_order)
    actual = sum((g.cost for g in groups), Decimal(0))
    able = [r.cost for r in repriced if r.cost is not None]
    if not able or not any(g.requests for g in groups):
        return repriced, None
    cheaper = sum(1 for cost in able if cost < actual)
    return repriced, (Decimal(cheaper * 100) / len(able)).quantize(Decimal("0.1"))


def _order(item: Repriced) -> tuple[bool, Decimal, str]:
    return (item.cost is None, item.cost or Decimal(0), item.model)


def offers_from(
    profiles: Iterable[Any], price_of: Callable[[str], ModelPrice | None]
) -> list[Offer]:
    """Offers for registered models (``ModelProfile``) whose price is known."""
    found = []
    for profile in profiles:
        price = price_of(profile.id)
        if price is not None:
            found.append(
                Offer(
                    profile.id,
                    frozenset(c.value for c in profile.capabilities),
                    profile.context_window,
                    price,
                    "registry",
                )
            )
    return found
