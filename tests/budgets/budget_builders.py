"""Small constructors shared by the budget tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from thrifty.budgets.model import BudgetSpec, BudgetState, Mode, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind, period_window
from thrifty.budgets.thresholds import DEFAULT_THRESHOLDS, Threshold

USD = 10**9
NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
MONTHLY = Period(PeriodKind.MONTHLY, date(2025, 1, 1), "UTC")


def spec(
    budget_id: str = "b1",
    *,
    limit: int = 100 * USD,
    mode: Mode = Mode.HARD,
    models: frozenset[str] | None = None,
    thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS,
    scope: Scope | None = None,
) -> BudgetSpec:
    return BudgetSpec(
        id=budget_id,
        scope=scope or Scope(ScopeType.TEAM, "eng"),
        limit_nano=limit,
        period=MONTHLY,
        mode=mode,
        models=models,
        thresholds=thresholds,
    )


def state(
    budget: BudgetSpec,
    *,
    posted: int = 0,
    held: int = 0,
    extension: int = 0,
    carried: int = 0,
    now: datetime = NOW,
) -> BudgetState:
    window = period_window(budget.period, now)
    assert window is not None
    return BudgetState(budget, window, now, posted, held, extension, carried)
