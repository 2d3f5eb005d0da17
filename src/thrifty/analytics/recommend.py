"""Savings recommendations from the record (pure), each with an estimated monthly saving and a
confidence, ranked by what they are worth.

* ``switch-model``: traffic of one task type went to a model while a cheaper registered model
  keeps the quality bar for that task (at least ``share`` of the current model's quality, from
  profiles updated by feedback) and can serve the requests (capabilities, context). Saving: the
  traffic repriced on the cheaper model. Confidence: high when both qualities rest on at least
  ``MEASURED`` feedback scores, medium when one does (or the traffic is large), low otherwise.
* ``prompt-caching``: a preamble of at least ``CACHE_MIN_TOKENS`` tokens repeated at least
  ``CACHE_MIN_REQUESTS`` times, mostly not read from a cache, on a model whose price has a
  cached-input rate. Saving: its tokens at the difference of the two rates, per request.
* ``shorten-prompt``: a stored preamble that deterministic rewrites (``analytics.prompts``)
  make shorter. Saving: the tokens saved at the input rate, per request.
* ``budget-at-risk``: a budget projected past its limit this period (saving: none; its
  projected overrun ranks it).
* ``key-without-budget``: a key that spent in the range with no budget on it, its user, team or
  organisation.

Savings scale the range's figures to 30 days.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from genai_prices.types import ModelPrice

from thrifty.analytics.workload import Group, Needs, Offer, group_cost, reprice
from thrifty.budgets.money import format_usd
from thrifty.pricing.catalog import TokenUsage, cost_of

MEASURED = 30
LARGE_TRAFFIC = 1_000
MIN_REQUESTS = 20
CACHE_MIN_TOKENS = 1_024
CACHE_MIN_REQUESTS = 20
MONTH_DAYS = Decimal(30)


@dataclass(frozen=True, slots=True)
class Recommendation:
    kind: str
    title: str
    detail: str
    monthly_savings: Decimal | None
    confidence: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    weight: Decimal = Decimal(0)  # what ranks it: the saving, or the money at risk

    def json(self, rank: int) -> dict[str, Any]:
        return {
            "rank": rank,
            "kind": self.kind,
            "title": self.title,
            "detail": self.detail,
            "estimatedMonthlySavings": (
                None if self.monthly_savings is None else format_usd(cents(self.monthly_savings))
            ),
            "confidence": self.confidence,
            "evidence": dict(self.evidence),
        }


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))


def _monthly(amount: Decimal, days: Decimal) -> Decimal:
    return amount * MONTH_DAYS / max(days, Decimal(1))


Quality = Callable[[str, str], tuple[float, int]]  # (model, task) → (quality, feedback count)


def switch_models(
    groups: Sequence[Group],
    offers: Sequence[Offer],
    needs: Mapping[str, Needs],
    quality: Quality,
    share: float,
    days: Decimal,
) -> list[Recommendation]:
    found = []
    by_model = {offer.model: offer for offer in offers}
    for group in groups:
        if group.requests < MIN_REQUESTS or group.model not in by_model or not group.task_type:
            continue
        task = group.task_type
        current_quality, current_n = quality(group.model, task)
        current_cost = group_cost(group, by_model[group.model].price)
        best: tuple[Decimal, Offer, float, int] | None = None
        for offer in offers:
            if offer.model == group.model:
                continue
            q, n = quality(offer.model, task)
            if q < share * current_quality:
                continue
            priced = reprice([group], offer, needs.get(task, Needs()))
            if priced.cost is None or priced.cost >= current_cost:
                continue
            if best is None or priced.cost < best[0]:
                best = (priced.cost, offer, q, n)
        if best is None:
            continue
        cost, offer, q, n = best
        saving = _monthly(current_cost - cost, days)
        measured = (current_n >= MEASURED) + (n >= MEASURED)
        confidence = (
            "high" if measured == 2
            else "medium" if measured == 1 or group.requests >= LARGE_TRAFFIC
            else "low"
        )  # fmt: skip
        found.append(
            Recommendation(
                "switch-model",
                f"Send {task} requests from {group.model} to {offer.model}",
                f"{group.requests} {task} requests went to {group.model}; {offer.model} "
                f"has quality {q:.3f} for {task} against {current_quality:.3f} "
                f"(bar: {share:.0%}) and would have cost {format_usd(cents(cost))} "
                f"instead of {format_usd(cents(current_cost))}.",
                saving, confidence,
                {"taskType": task, "from": group.model, "to": offer.model,
                 "requests": group.requests, "qualityFrom": round(current_quality, 4),
                 "qualityTo": round(q, 4), "feedbackFrom": current_n, "feedbackTo": n},
                saving,
            )
        )  # fmt: skip
    return found


@dataclass(frozen=True, slots=True)
class PreambleUse:
    fingerprint: str
    model: str
    tokens: int
    requests: int
    cached_input_tokens: int
    excerpt: str | None
    text: str | None


def prompt_caching(
    uses: Sequence[PreambleUse],
    price_of: Callable[[str], ModelPrice | None],
    days: Decimal,
) -> list[Recommendation]:
    found = []
    for use in uses:
        if use.tokens < CACHE_MIN_TOKENS or use.requests < CACHE_MIN_REQUESTS:
            continue
        if use.cached_input_tokens >= use.tokens * use.requests / 2:
            continue  # already mostly read from a cache
        price = price_of(use.model)
        if price is None or getattr(price, "cache_read_mtok", None) is None:
            continue
        full = cost_of(price, TokenUsage(use.tokens, 0))
        cached = cost_of(price, TokenUsage(use.tokens, 0, cached_input_tokens=use.tokens))
        saving = _monthly((full - cached) * use.requests, days)
        if saving <= 0:
            continue
        found.append(
            Recommendation(
                "prompt-caching",
                f"Cache the {use.tokens}-token preamble sent {use.requests} times to {use.model}",
                f"Requests to {use.model} repeated the same {use.tokens}-token preamble "
                f"({use.excerpt or use.fingerprint}); with prompt caching its tokens are read at "
                f"the cached rate. The estimate assumes every repeat is a cache hit.",
                saving, "high" if use.requests >= 10 * CACHE_MIN_REQUESTS else "medium",
                {"fingerprint": use.fingerprint, "model": use.model, "tokens": use.tokens,
                 "requests": use.requests},
                saving,
            )
        )  # fmt: skip
    return found


Shortener = Callable[[str, str], tuple[int, list[str]]]  # (text, model) → (tokens saved, how)


def shorten_prompts(
    uses: Sequence[PreambleUse],
    price_of: Callable[[str], ModelPrice | None],
    shorten: Shortener,
    days: Decimal,
) -> list[Recommendation]:
    found = []
    for use in uses:
        if use.text is None or use.requests < MIN_REQUESTS:
            continue
        price = price_of(use.model)
        if price is None:
            continue
        saved, how = shorten(use.text, use.model)
        if saved <= 0:
            continue
        per_call = cost_of(price, TokenUsage(saved, 0))
        saving = _monthly(per_call * use.requests, days)
        found.append(
            Recommendation(
                "shorten-prompt",
                f"Shorten a preamble sent {use.requests} times by {saved} tokens",
                f"The preamble ({use.excerpt or use.fingerprint}) of {use.tokens} tokens loses "
                f"{saved} tokens to deterministic rewrites: {', '.join(how)}. "
                f"POST /api/v1/prompts/analyze shows them.",
                saving, "high",
                {"fingerprint": use.fingerprint, "model": use.model, "tokens": use.tokens,
                 "tokensSaved": saved, "requests": use.requests, "rewrites": how},
                saving,
            )
        )  # fmt: skip
    return found


@dataclass(frozen=True, slots=True)
class BudgetRisk:
    budget_id: str
    limit: Decimal
    projected: Decimal
    runs_out_on: date | None
    method: str


def budgets_at_risk(risks: Sequence[BudgetRisk]) -> list[Recommendation]:
    found = []
    for risk in risks:
        over = risk.projected - risk.limit
        if over <= 0:
            continue
        when = f" on {risk.runs_out_on.isoformat()}" if risk.runs_out_on else ""
        found.append(
            Recommendation(
                "budget-at-risk",
                f"Budget {risk.budget_id} is projected to run out{when}",
                f"Projected spend this period is {format_usd(cents(risk.projected))} against a "
                f"limit of {format_usd(cents(risk.limit))}: raise the limit, move traffic to "
                f"cheaper models, or ask for an override before it blocks requests.",
                None, "medium" if risk.method != "burn_rate" else "low",
                {"budgetId": risk.budget_id, "limit": format_usd(risk.limit),
                 "projectedTotal": format_usd(cents(risk.projected)),
                 "runsOutOn": risk.runs_out_on.isoformat() if risk.runs_out_on else None,
                 "forecastMethod": risk.method},
                over,
            )
        )  # fmt: skip
    return found


def keys_without_budget(spend: Mapping[str, Decimal], days: Decimal) -> list[Recommendation]:
    found = []
    for key_id, cost in spend.items():
        if cost <= 0:
            continue
        monthly = _monthly(cost, days)
        found.append(
            Recommendation(
                "key-without-budget",
                f"Key {key_id} spends with no budget",
                f"Key {key_id} spent {format_usd(cents(cost))} in the range (about "
                f"{format_usd(cents(monthly))} a month) and no budget covers it, its user, its "
                f"team or its organisation: nothing would stop a runaway loop.",
                None, "high", {"keyId": key_id, "spend": format_usd(cents(cost))},
                monthly,
            )
        )  # fmt: skip
    return found


def ranked(recommendations: Sequence[Recommendation], limit: int) -> list[Recommendation]:
    """Savings first (largest first), then risks by the money at stake."""
    return sorted(
        recommendations,
        key=lambda r: (r.monthly_savings is None, -r.weight, r.kind, r.title),
    )[:limit]
