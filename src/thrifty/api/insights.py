"""``GET /api/v1/cost/recommendations`` (ranked savings, ``analytics.recommend``) and
``GET /api/v1/cost/benchmarks`` (the recorded workload repriced on every model that can serve
it, ``analytics.workload``). Both take the range and filters of the cost-analysis endpoints
and see what the key may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from genai_prices.types import ModelPrice
from sqlalchemy import Connection

from thrifty.analytics import recommend as rec
from thrifty.analytics.costs import Totals
from thrifty.analytics.prompts import analyze_prompt
from thrifty.analytics.spend_forecast import forecast_scope
from thrifty.analytics.workload import Group, Needs, Offer, compare, needs_of, offers_from
from thrifty.api.auth import Caller, CallerDep
from thrifty.api.cost_analysis import Window, WindowDep, caught_up
from thrifty.api.forecasts import daily_history
from thrifty.api.responses import FastJSONResponse
from thrifty.budgets.model import ScopeType
from thrifty.budgets.money import format_usd
from thrifty.budgets.status import status_of
from thrifty.pricing.catalog import catalog_prices
from thrifty.routing.estimates import tokenizer_model
from thrifty.routing.feedback import QualityBook
from thrifty.routing.registry import ModelRegistry
from thrifty.routing.strategy import parse_quality_requirement
from thrifty.storage import balances, budgets_repo, rollups, selection_repo

router = APIRouter(prefix="/api/v1", tags=["cost insights"])
DECISION_SAMPLE = 5_000
FORECAST_BUDGETS = 10  # budgets whose run-out is forecast (the fullest first)
AT_RISK_SHARE = Decimal("0.8")  # of the limit, by the linear projection, to be forecast


@dataclass(frozen=True)
class Record:
    """What the recommendations read from the database."""

    groups: list[Group]
    needs: dict[str, Needs]
    preambles: list[rec.PreambleUse]
    key_spend: dict[str, Decimal]
    at_risk: list[Any]  # BudgetState of budgets near their limit


def _days(window: Window) -> Decimal:
    return Decimal((window.end - window.start).total_seconds()) / 86_400


def _groups(conn: Connection, window: Window) -> list[Group]:
    rows = rollups.read(conn, "day", window.start, window.end, window.scope, ("model", "task_type"))
    merged: dict[tuple[str, str], Totals] = {}
    for row in rows:
        key = (row["model"], row["task_type"])
        merged[key] = merged.get(key, Totals()).plus(row)
    return [
        Group(model, task, t.requests, t.input_tokens, t.cached_input_tokens, t.output_tokens,
              t.cost)
        for (model, task), t in merged.items()
        if model
    ]  # fmt: skip


def _needs(conn: Connection, window: Window) -> dict[str, Needs]:
    by_task: dict[str, list[dict[str, Any]]] = {}
    for task, profile in selection_repo.decision_profiles(
        conn, window.scope, window.start, window.end, limit=DECISION_SAMPLE
    ):
        by_task.setdefault(task, []).append(profile)
    return {task: needs_of(profiles) for task, profiles in by_task.items()}


def _key_spend(conn: Connection, window: Window) -> dict[str, Decimal]:
    """Spend of each key that no budget of its chain (key, user, team, org) covers."""
    rows = rollups.read(
        conn, "day", window.start, window.end, window.scope,
        ("key_id", "user_id", "team_id", "org_id"),
    )  # fmt: skip
    covered = {(b.spec.scope.type, b.spec.scope.id) for b in budgets_repo.list_budgets(conn)}
    spend: dict[str, Decimal] = {}
    for row in rows:
        chain = (
            (ScopeType.KEY, row["key_id"]), (ScopeType.USER, row["user_id"]),
            (ScopeType.TEAM, row["team_id"]), (ScopeType.ORGANIZATION, row["org_id"]),
        )  # fmt: skip
        if row["key_id"] and not any(scope in covered for scope in chain if scope[1]):
            spend[row["key_id"]] = spend.get(row["key_id"], Decimal(0)) + Totals().plus(row).cost
    return spend


def _at_risk(conn: Connection, caller: Caller, now: datetime) -> list[Any]:
    stored = [
        b
        for b in budgets_repo.list_budgets(conn)
        if caller.sees(b.spec.scope.type, b.spec.scope.id)
    ]
    risky = []
    for state in balances.budget_states(conn, [b.spec for b in stored], now):
        report = status_of(state)
        if report.projected_total_nano >= AT_RISK_SHARE * report.limit_nano:
            risky.append((report.projected_total_nano / max(report.limit_nano, 1), state))
    risky.sort(key=lambda pair: -pair[0])
    return [state for _share, state in risky[:FORECAST_BUDGETS]]


def _record(conn: Connection, caller: Caller, window: Window, now: datetime) -> Record:
    preambles = [
        rec.PreambleUse(
            row["fingerprint"],
            row["model"],
            int(row["tokens"]),
            int(row["requests"]),
            int(row["cached_input_tokens"]),
            row["excerpt"],
            row["text"],
        )
        for row in rollups.read_preambles(
            conn, window.start, window.end, window.scope, min_requests=rec.MIN_REQUESTS
        )
    ]
    return Record(
        _groups(conn, window), _needs(conn, window), preambles, _key_spend(conn, window),
        _at_risk(conn, caller, now),
    )  # fmt: skip


def _prices(registry: ModelRegistry, now: datetime) -> dict[str, ModelPrice]:
    return {m.id: registry.price_of(m.id, now).price for m in registry}


def _quality(book: QualityBook, registry: ModelRegistry) -> rec.Quality:
    def quality(model: str, task: str) -> tuple[float, int]:
        profile = registry.profiles.get(model)
        prior = profile.quality_for(task) if profile is not None else 0.0
        return book.expected(model, task, prior), book.count(model, task)

    return quality


def _shortener(registry: ModelRegistry, prices: dict[str, ModelPrice]) -> rec.Shortener:
    def shorten(text: str, model: str) -> tuple[int, list[str]]:
        profile = registry.profiles.get(model)
        if profile is None:
            return 0, []
        analysis = analyze_prompt(
            [{"role": "system", "content": text}], tokenizer_model(profile), prices[model]
        )
        if analysis.combined is None:
            return 0, []
        return analysis.combined.tokens_saved, [r.kind for r in analysis.rewrites if r.safe]

    return shorten


def _risks(states: list[Any], scopes: dict[str, Any], now: datetime) -> list[rec.BudgetRisk]:
    risks = []
    for state in states:
        daily = scopes[state.spec.id]
        result = forecast_scope(daily, now, 1, [state], check=False)
        (projection,) = result.budgets
        risks.append(
            rec.BudgetRisk(
                state.spec.id, projection.limit_usd, projection.projected_usd,
                projection.runs_out_on, result.forecast.method,
            )
        )  # fmt: skip
    return risks


@router.get("/cost/recommendations", summary="Ranked ways to spend less, with their savings")
async def recommendations(
    request: Request,
    caller: CallerDep,
    window: WindowDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> FastJSONResponse:
    state = caller.state
    now = state.now()
    registry = state.registry.get()
    book: QualityBook = request.app.state.steering.quality.get()
    await caught_up(caller.state.database)
    record = await state.database.aread(lambda conn: _record(conn, caller, window, now))
    histories = await state.database.aread(
        lambda conn: {b.spec.id: daily_history(conn, b.spec.scope, now) for b in record.at_risk}
    )
    selection = state.config.config.selection
    share = parse_quality_requirement(selection.quality_requirement, field="quality")

    def build() -> list[rec.Recommendation]:
        prices = _prices(registry, now)
        offers = offers_from(registry, prices.get)
        days = _days(window)
        return [
            *rec.switch_models(
                record.groups, offers, record.needs, _quality(book, registry), share, days
            ),
            *rec.prompt_caching(record.preambles, prices.get, days),
            *rec.shorten_prompts(record.preambles, prices.get, _shortener(registry, prices), days),
            *rec.budgets_at_risk(_risks(record.at_risk, histories, now)),
            *rec.keys_without_budget(record.key_spend, days),
        ]

    found = rec.ranked(await anyio.to_thread.run_sync(build), limit)
    total = sum((rec.cents(r.monthly_savings) for r in found if r.monthly_savings), Decimal(0))
    return FastJSONResponse(
        {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "estimatedMonthlySavings": format_usd(total),
            "recommendations": [r.json(i) for i, r in enumerate(found, start=1)],
        }
    )


def _nano_usd(amount: Decimal | None) -> str | None:
    return None if amount is None else format_usd(amount.quantize(Decimal("1E-9")))


@router.get("/cost/benchmarks", summary="The recorded workload's cost on every model")
async def benchmarks(
    caller: CallerDep,
    window: WindowDep,
    catalog: bool = False,
    limit: Annotated[int, Query(ge=1, le=5_000)] = 100,
) -> FastJSONResponse:
    state = caller.state
    now = state.now()
    registry = state.registry.get()

    def read(conn: Connection) -> tuple[list[Group], Needs]:
        groups = _groups(conn, window)
        profiles = selection_repo.decision_profiles(
            conn, window.scope, window.start, window.end, limit=DECISION_SAMPLE
        )
        return groups, needs_of(profile for _task, profile in profiles)

    await caught_up(caller.state.database)
    groups, needs = await state.database.aread(read)

    def build() -> tuple[list[Any], Decimal | None]:
        prices = _prices(registry, now)
        offers: list[Offer] = offers_from(registry, prices.get)
        if catalog:
            offers += [
                Offer(f"{c.provider}/{c.model}", frozenset(), c.context_window, c.price, "catalog")
                for c in catalog_prices()
            ]
        return compare(groups, offers, needs)

    repriced, percentile = await anyio.to_thread.run_sync(build)
    actual = sum((g.cost for g in groups), Decimal(0))
    requests = sum(g.requests for g in groups)

    def per_request(cost: Decimal | None) -> str | None:
        if cost is None or not requests:
            return None
        return format_usd((cost / requests).quantize(Decimal("1E-12")).normalize())

    return FastJSONResponse(
        {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "requests": requests,
            "actualCost": format_usd(actual),
            "costPerRequest": per_request(actual),
            "percentile": None if percentile is None else format_usd(percentile),
            "needs": {
                "known": needs.known,
                "capabilities": sorted(needs.capabilities),
                "maxContextTokens": needs.max_context_tokens,
            },
            "models": [
                {
                    "model": r.model,
                    "source": r.source,
                    "eligible": r.cost is not None,
                    "reason": r.reason,
                    "cost": None
                    if r.cost is None
                    else format_usd(r.cost.quantize(Decimal("1E-9"))),
                    "costPerRequest": per_request(r.cost),
                    "difference": (
                        None
                        if r.cost is None
                        else format_usd((r.cost - actual).quantize(Decimal("1E-9")))
                    ),
                }
                for r in repriced[:limit]
            ],
        }
    )
