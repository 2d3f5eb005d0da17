"""``GET /api/v1/cost/savings``: what model selection saved in a range (``analytics.savings``).

Takes the cost-analysis range and filters (``start``, ``end``, ``orgId``, ``teamId``,
``userId``, ``keyId``, ``model``, ``provider``, ``taskType``; what a key sees is as there).
It reads the range's decisions with their settled usage records, so its cost grows with the
range's selected traffic, unlike the sums the other cost endpoints read.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter

from thrifty.analytics.savings import DecidedCall, Pricer, Savings, Tally, savings
from thrifty.api.auth import CallerDep
from thrifty.api.cost_analysis import WindowDep
from thrifty.api.responses import FastJSONResponse
from thrifty.budgets.money import format_usd
from thrifty.errors import InvalidInput, PricingError, UnknownModel
from thrifty.pricing.catalog import TokenUsage, cost_of
from thrifty.routing.registry import ModelRegistry
from thrifty.storage.selection_repo import decided_usage

router = APIRouter(prefix="/api/v1", tags=["cost analysis"])


def _pricer(registry: ModelRegistry) -> Pricer:
    def price(model: str, at: datetime, usage: TokenUsage) -> Decimal | None:
        try:
            return cost_of(registry.price_of(model, at).price, usage)
        except (UnknownModel, PricingError):
            return None

    return price


def _tally(tally: Tally) -> dict[str, Any]:
    percent = None if not tally.baseline else round(100 * tally.saved / tally.baseline, 2)
    return {
        "requests": tally.requests,
        "baselineCost": format_usd(tally.baseline),
        "actualCost": format_usd(tally.actual),
        "savings": format_usd(tally.saved),
        "savingsPercent": None if percent is None else format(percent, "f"),
    }


def savings_json(found: Savings) -> dict[str, Any]:
    pairs = sorted(found.by_pair.items(), key=lambda item: item[1].saved, reverse=True)
    return {
        **_tally(found.total),
        "substituted": found.substituted,
        "unpriced": found.unpriced,
        "byBasis": {basis: _tally(t) for basis, t in sorted(found.by_basis.items())},
        "byModel": [
            {"baselineModel": baseline, "model": served, **_tally(t)}
            for (baseline, served), t in pairs
        ],
    }


@router.get("/cost/savings", summary="What model selection saved against the models asked for")
async def cost_savings(caller: CallerDep, window: WindowDep) -> FastJSONResponse:
    if window.scope.tag is not None:
        raise InvalidInput("savings are not split by tag", field="tag")

    def read(conn):  # type: ignore[no-untyped-def]
        return list(decided_usage(conn, window.start, window.end, window.scope))

    calls: list[DecidedCall] = await caller.state.database.aread(read)
    registry = caller.state.registry.get()
    found = savings(calls, registry, _pricer(registry))
    body = {"start": window.start.isoformat(), "end": window.end.isoformat()}
    return FastJSONResponse(body | savings_json(found))
