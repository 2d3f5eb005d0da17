"""A scope's spend forecast (pure): daily points with intervals, each budget's end-of-period
projection and the date it is projected to run out.

The history is the scope's spend per UTC day up to yesterday (today is not over); leading days
before the first spend are dropped. ``analytics.forecast`` forecasts it, from today on. A
budget's projection is what it has used (posted + held) plus the forecast for the rest of its
window: the rest of today (its share of the day still to come) and each later day up to the
window's end. The projection's bounds add the daily bounds, which overstates the spread of a
sum (days' errors partly cancel) — a cautious band for a budget owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from thrifty.analytics.forecast import Backtest, Forecast, ForecastPoint, backtest, forecast
from thrifty.analytics.series import build_series
from thrifty.budgets.model import BudgetState

_NANO = Decimal(1_000_000_000)
_DAY = timedelta(days=1)
BACKTEST_FOLDS = 3
BACKTEST_HORIZON = 28  # at most; shorter horizons are checked at their own length


@dataclass(frozen=True, slots=True)
class BudgetProjection:
    budget_id: str
    window_end: datetime
    limit_usd: Decimal
    used_usd: Decimal
    projected_usd: Decimal
    lower80_usd: Decimal
    upper80_usd: Decimal
    runs_out_on: date | None  # by the point forecast; None: not within the window
    runs_out_on_cautious: date | None  # by the upper 80% bound


@dataclass(frozen=True, slots=True)
class ScopeForecast:
    history_days: int
    forecast: Forecast
    budgets: tuple[BudgetProjection, ...]
    accuracy: Backtest | None


def usd(nano: int) -> Decimal:
    return Decimal(nano) / _NANO


def amount(value: float) -> Decimal:
    """A forecast figure as USD, to the nano, never below zero (spend cannot be negative)."""
    return max(Decimal(0), Decimal(repr(value)).quantize(Decimal("1E-9")))


def forecast_scope(
    daily: Sequence[tuple[datetime, int]],
    now: datetime,
    horizon: int,
    states: Sequence[BudgetState] = (),
    *,
    check: bool = True,
) -> ScopeForecast:
    """``daily``: (UTC day start, nano-USD) for consecutive days ending before today;
    ``check``: also backtest the forecaster on this history."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    history = [(day, nano) for day, nano in daily if day < today]
    first = next((i for i, (_day, nano) in enumerate(history) if nano), len(history))
    history = history[first:]
    while len(history) < 2:  # no spend yet (or one day of it): forecast from zeros
        history.insert(0, ((history[0][0] if history else today) - _DAY, 0))
    series = build_series([float(usd(n)) for _d, n in history], [d for d, _n in history])
    gap = (today - history[-1][0]).days - 1  # days between the history's end and today
    ends = [s.window.end_utc for s in states]
    reach = max([horizon, *((end - today).days + 1 for end in ends)])
    result = forecast(series, gap + reach, season=7)
    points = tuple(
        p._replace(step=p.step - gap, timestamp=today + (p.step - gap - 1) * _DAY)
        for p in result.points[gap:]
    )
    projections = tuple(_project(state, points, now) for state in states)
    shown = Forecast(points[:horizon], result.method, result.season)
    accuracy = None
    checked = min(horizon, BACKTEST_HORIZON)
    if check and len(series) >= BACKTEST_FOLDS * checked + 28:  # 4 weeks before every fold
        accuracy = backtest(series, checked, folds=BACKTEST_FOLDS, season=7)
    return ScopeForecast(len(history), shown, projections, accuracy)


def _project(
    state: BudgetState, points: Sequence[ForecastPoint], now: datetime
) -> BudgetProjection:
    end = state.window.end_utc
    used = usd(state.used_nano)
    projected = low = high = used
    spent = {"value": used, "upper80": used}
    runs_out: dict[str, date | None] = {"value": None, "upper80": None}
    limit = usd(state.limit_nano)
    for bound in runs_out:
        if spent[bound] >= limit:
            runs_out[bound] = now.date()
    for point in points:
        assert point.timestamp is not None
        start = max(point.timestamp, now)
        stop = min(point.timestamp + _DAY, end)
        if stop <= start:
            continue
        share = Decimal((stop - start) / _DAY)
        projected += amount(point.value) * share
        low += amount(point.lower80) * share
        high += amount(point.upper80) * share
        for bound in runs_out:
            spent[bound] += amount(getattr(point, bound)) * share
            if runs_out[bound] is None and spent[bound] >= limit:
                runs_out[bound] = point.timestamp.date()
    return BudgetProjection(
        state.spec.id, end, limit, used, projected, low, high,
        runs_out["value"], runs_out["upper80"],
    )  # fmt: skip
