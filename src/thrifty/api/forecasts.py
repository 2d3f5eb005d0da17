"""``GET /api/v1/cost/forecast``: a scope's daily spend forecast with 80% and 95% intervals,
each of its budgets' end-of-period projection and run-out date, and the forecaster's own
backtested accuracy (``analytics.spend_forecast``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query
from sqlalchemy import Connection

from thrifty.analytics import costs
from thrifty.analytics.costs import Granularity
from thrifty.analytics.forecast import Backtest
from thrifty.analytics.spend_forecast import (
    BudgetProjection,
    ScopeForecast,
    amount,
    forecast_scope,
)
from thrifty.api.auth import Caller, CallerDep
from thrifty.api.cost_analysis import caught_up, read_views
from thrifty.api.responses import FastJSONResponse
from thrifty.budgets.model import BudgetState, Scope, ScopeType, parse_scope_type
from thrifty.budgets.money import format_usd
from thrifty.storage import balances, budgets_repo, rollups

router = APIRouter(prefix="/api/v1", tags=["forecasts"])
HISTORY = timedelta(days=365)
_FILTER = {
    ScopeType.ORGANIZATION: "org_id",
    ScopeType.TEAM: "team_id",
    ScopeType.USER: "user_id",
    ScopeType.KEY: "key_id",
    ScopeType.TAG: "tag",
}


def scope_filter(scope: Scope) -> rollups.Scope:
    """The usage sums of one budget scope."""
    return rollups.Scope(**{_FILTER[scope.type]: scope.id})


def daily_history(conn: Connection, scope: Scope, now: datetime) -> list[tuple[datetime, int]]:
    """The scope's spend per UTC day over the last year, up to and including today."""
    today = costs.period_start(now, Granularity.DAY)
    start = today - HISTORY
    end = today + timedelta(days=1)
    rows = read_views(conn, scope_filter(scope), "day", start, end, ["total"])["total"]
    return costs.daily_costs(rows, start, end)


def _point(point: Any) -> dict[str, Any]:
    return {
        "date": point.timestamp.date().isoformat(),
        "timestamp": point.timestamp.isoformat(),
        **{
            name: format_usd(amount(getattr(point, name)))
            for name in ("value", "lower80", "upper80", "lower95", "upper95")
        },
    }


def _budget(projection: BudgetProjection) -> dict[str, Any]:
    return {
        "budgetId": projection.budget_id,
        "periodEnd": projection.window_end.isoformat(),
        "limit": format_usd(projection.limit_usd),
        "used": format_usd(projection.used_usd),
        "projectedTotal": format_usd(projection.projected_usd),
        "projectedLower80": format_usd(projection.lower80_usd),
        "projectedUpper80": format_usd(projection.upper80_usd),
        "runsOutOn": projection.runs_out_on.isoformat() if projection.runs_out_on else None,
        "runsOutOnCautious": (
            projection.runs_out_on_cautious.isoformat() if projection.runs_out_on_cautious else None
        ),
    }


def _accuracy(backtest: Backtest | None) -> dict[str, Any] | None:
    if backtest is None:
        return None
    return {
        "method": "rolling origins",
        "horizonDays": backtest.horizon,
        "folds": len(backtest.folds),
        "mape": round(backtest.median_mape, 2),
        "seasonalNaiveMape": round(backtest.median_naive_mape, 2),
        "totalErrorPercent": round(backtest.median_total_error, 2),
        "coverage80": round(backtest.coverage80, 3),
        "coverage95": round(backtest.coverage95, 3),
    }


def forecast_json(scope: Scope, result: ScopeForecast) -> dict[str, Any]:
    return {
        "scope": {"type": scope.type.value, "id": scope.id},
        "method": result.forecast.method,
        "historyDays": result.history_days,
        "points": [_point(p) for p in result.forecast.points],
        "budgets": [_budget(b) for b in result.budgets],
        "accuracy": _accuracy(result.accuracy),
    }


def scope_inputs(
    conn: Connection, scope: Scope, now: datetime
) -> tuple[list[tuple[datetime, int]], list[BudgetState]]:
    """What a scope's forecast needs from the database: its daily spend, its budgets' states."""
    daily = daily_history(conn, scope, now)
    stored = budgets_repo.list_budgets(conn, [scope])
    return daily, balances.budget_states(conn, [s.spec for s in stored], now)


async def scope_forecast(
    caller: Caller, scope: Scope, now: datetime, horizon: int
) -> ScopeForecast:
    """Read in the database's thread, fit in a worker thread (a fit is CPU work)."""
    await caught_up(caller.state.database)
    daily, states = await caller.state.database.aread(lambda conn: scope_inputs(conn, scope, now))
    return await anyio.to_thread.run_sync(lambda: forecast_scope(daily, now, horizon, states))


@router.get("/cost/forecast", summary="A scope's spend forecast and its budgets' run-out dates")
async def cost_forecast(
    caller: CallerDep,
    scope_type: Annotated[str, Query(alias="scopeType", min_length=1, max_length=32)],
    scope_id: Annotated[str, Query(alias="scopeId", min_length=1, max_length=200)],
    horizon: Annotated[int, Query(ge=1, le=365)] = 30,
) -> FastJSONResponse:
    scope = Scope(parse_scope_type(scope_type, field="scopeType"), scope_id)
    caller.check_sees(scope.type, scope.id, field="scopeId")
    now = caller.state.now()
    result = await scope_forecast(caller, scope, now, horizon)
    return FastJSONResponse({**forecast_json(scope, result), "asOf": now.isoformat()})
