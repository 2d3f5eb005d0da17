"""Run-out alerts: every process forecasts each budgeted scope's spend (with the anomaly scan)
and records, once per budget window, a ``forecast_runout`` alert event when the point forecast
says the budget will run out before its period ends.

A budget already used up has its ``exhausted`` alert instead; a scope with less than a week of
spend is not judged (its forecast is a burn rate, too noisy to alert on).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from functools import partial

from sqlalchemy import Connection

from thrifty.analytics.spend_forecast import BudgetProjection, forecast_scope
from thrifty.api.forecasts import daily_history
from thrifty.budgets.model import BudgetState, Scope
from thrifty.budgets.money import format_usd
from thrifty.storage import balances, budgets_repo, rollups
from thrifty.storage.budgets_repo import StoredBudget
from thrifty.storage.database import Database

log = logging.getLogger("thrifty")
MIN_HISTORY_DAYS = 7


def _payload(projection: BudgetProjection) -> dict[str, object]:
    assert projection.runs_out_on is not None
    return {
        "run_out": projection.runs_out_on.isoformat(),
        "run_out_cautious": None if projection.runs_out_on_cautious is None
        else projection.runs_out_on_cautious.isoformat(),
        "period_end": projection.window_end.isoformat(),
        "limit": format_usd(projection.limit_usd),
        "used": format_usd(projection.used_usd),
        "projected": format_usd(projection.projected_usd),
    }  # fmt: skip


def runs_out_early(state: BudgetState, projection: BudgetProjection) -> bool:
    if state.used_nano >= state.limit_nano or projection.runs_out_on is None:
        return False
    return projection.runs_out_on < state.window.end_utc.date()


def scan_scope(conn: Connection, scope: Scope, stored: list[StoredBudget], now: datetime) -> int:
    states = balances.budget_states(conn, [s.spec for s in stored], now)
    if not states:
        return 0
    daily = daily_history(conn, scope, now)
    if sum(1 for _day, nano in daily if nano) < MIN_HISTORY_DAYS:
        return 0
    result = forecast_scope(daily, now, 1, states, check=False)
    new = 0
    for state, projection in zip(states, result.budgets, strict=True):
        if runs_out_early(state, projection):
            kind, window = "forecast_runout", state.window.index
            if balances.record_alert(
                conn, state.spec.id, window, kind, "", _payload(projection), now
            ):
                new += 1
    return new


def scan_once(database: Database, now: datetime) -> int:
    if database.read(rollups.has_pending):
        database.write(rollups.catch_up)
    by_scope: dict[Scope, list[StoredBudget]] = defaultdict(list)
    for budget in database.read(budgets_repo.list_budgets):
        by_scope[budget.spec.scope].append(budget)
    new = 0
    for scope, stored in by_scope.items():
        new += database.write(partial(scan_scope, scope=scope, stored=stored, now=now))
    if new:
        log.info("recorded %d run-out alert(s)", new)
    return new
