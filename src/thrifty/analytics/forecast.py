"""Spend forecasts with honest intervals, and the backtest that measures them.

``forecast(series, horizon)`` works on a transformed scale — ``log(v + shift)`` for non-negative
series (``shift`` is 0 when every value is positive, else a tenth of the mean), the values
themselves when some are negative — and blends two forecasters there:

* **ETS**: statsmodels' Holt-Winters exponential smoothing with a damped additive trend and an
  additive season of ``season`` steps (weekly for daily data, daily for hourly data), fitted on
  the last ``ETS_POINTS`` values;
* **profile**: the mean of the last ``PROFILE_CYCLES`` cycles of the long period (a week: 7 for
  daily data, 168 for hourly data with three weeks of history), moved to the level of the last
  ``LEVEL_CYCLES`` cycles.

Both are run from every recent origin of the history (ETS from the states of its one fit), which
gives their k-step-ahead errors. The blend weight (1, ½ or 0 for ETS) is the one with the
smallest mean absolute error over those origins. The intervals are empirical quantiles of the
blend's k-step errors (pooled over steps k±2, grown by √k past the steps the history can check),
widened by ``WIDEN`` since ETS's errors come from a fit to the same data (1.3 gives 80/95%
coverage on rolling origins of the bike data's first year). Short histories (fewer than
``max(14, 2 × season)`` values, or too few origins to check) get a **burn rate**: the mean of
the last week or season, with normal intervals from the spread of the last 28 values.

``backtest`` refits from rolling origins — by default the last ``folds`` non-overlapping windows
of ``horizon`` steps, ending at the end of the series — and reports the MAPE of each fold beside
that of the seasonal-naive forecast (repeat the last season) on the same fold.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray

from thrifty.analytics.series import Series, infer_season
from thrifty.errors import InvalidInput

Array = NDArray[np.float64]
Method = Literal["ets", "ets+profile", "profile"]
ETS_POINTS = 400
PROFILE_CYCLES = 8
LEVEL_CYCLES = 2
CHECK_ORIGINS = 365
MIN_HISTORY = 14
Z80, Z95 = 1.2815516, 1.9599640
QUANTILES = (0.025, 0.10, 0.90, 0.975)
WIDEN = 1.3


class ForecastPoint(NamedTuple):
    """One future step: its number (1 = the step after the last value), time and bounds."""

    step: int
    timestamp: datetime | None
    value: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float


@dataclass(frozen=True)
class Forecast:
    points: tuple[ForecastPoint, ...]
    method: Method | Literal["burn_rate"]
    season: int | None


class Fold(NamedTuple):
    origin: int  # index of the first forecast value
    start: datetime | None
    mape: float  # percent, over the non-zero actual values of the fold
    naive_mape: float  # the seasonal-naive forecast's, same fold
    total_error: float  # percent error of the horizon's total (what a budget sees)
    naive_total_error: float
    coverage80: float  # share of the fold's actual values inside the 80% interval
    coverage95: float


@dataclass(frozen=True)
class Backtest:
    horizon: int
    season: int | None
    folds: tuple[Fold, ...]

    @property
    def median_mape(self) -> float:
        return _median([f.mape for f in self.folds])

    @property
    def median_naive_mape(self) -> float:
        return _median([f.naive_mape for f in self.folds])

    @property
    def improvement(self) -> float:
        """1 − median MAPE / median seasonal-naive MAPE (0.4: 40% lower)."""
        return 1 - self.median_mape / self.median_naive_mape

    @property
    def median_total_error(self) -> float:
        return _median([f.total_error for f in self.folds])

    @property
    def median_naive_total_error(self) -> float:
        return _median([f.naive_total_error for f in self.folds])

    @property
    def coverage80(self) -> float:
        return statistics.fmean(f.coverage80 for f in self.folds)

    @property
    def coverage95(self) -> float:
        return statistics.fmean(f.coverage95 for f in self.folds)


def forecast(series: Series, horizon: int, season: int | None = None) -> Forecast:
    """``horizon`` future steps of ``series``; ``season`` (steps) defaults to ``infer_season``."""
    if horizon < 1:
        raise InvalidInput("horizon must be at least 1", field="horizon")
    if len(series) < 2:
        raise InvalidInput("need at least 2 values to forecast", field="input")
    if season is not None and season < 1:
        raise InvalidInput("season must be at least 1", field="season")
    if series.step is not None and series.step <= timedelta(0):
        raise InvalidInput("the timestamps must differ from one step to the next", field="input")
    season = season if season is not None else infer_season(series)
    season = season if season is not None and season > 1 else None
    values = np.asarray(series.values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise InvalidInput("the values must be finite numbers", field="input")
    if len(values) < max(MIN_HISTORY, 2 * (season or 1)):
        return _burn_rate(series, values, horizon, season)
    transform = _Transform.for_values(values)
    x = transform.forward(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths, errors, method = _blend(x, horizon, season, _long_period(series, season, len(x)))
    if np.count_nonzero(~np.isnan(errors[:, :3])) < 10:  # too few origins to check
        return _burn_rate(series, values, horizon, season)
    bands = _error_bands(errors, horizon) * WIDEN
    bands[:, :2] = np.minimum(bands[:, :2], 0.0)  # the point lies inside its intervals
    bands[:, 2:] = np.maximum(bands[:, 2:], 0.0)
    bounds = [paths + bands[:, i] for i in (1, 2, 0, 3)]  # lower80, upper80, lower95, upper95
    columns = [transform.inverse(path) for path in (paths, *bounds)]
    points = tuple(
        ForecastPoint(k + 1, _future_time(series, k + 1), *(float(c[k]) for c in columns))
        for k in range(horizon)
    )
    return Forecast(points, method, season)


def backtest(
    series: Series,
    horizon: int,
    folds: int = 12,
    every: int | None = None,
    season: int | None = None,
) -> Backtest:
    """Refit at ``folds`` rolling origins ``every`` steps apart (default ``horizon``: windows
    that do not overlap), the last window ending with the series."""
    every = every or horizon
    if folds < 1 or every < 1:
        raise InvalidInput("folds and the spacing of origins must be at least 1", field="folds")
    season = season if season is not None else infer_season(series)
    origins = [len(series) - horizon - i * every for i in reversed(range(folds))]
    if origins[0] < 2:
        raise InvalidInput(
            f"{len(series)} values are too few for {folds} folds of {horizon} steps", field="folds"
        )
    values = np.asarray(series.values, dtype=np.float64)
    results = []
    for origin in origins:
        fitted = forecast(series.head(origin), horizon, season).points
        lag = season if season and season < origin else 1
        naive = np.resize(values[origin - lag : origin], horizon)
        start = series.timestamps[origin] if series.timestamps else None
        results.append(_score(origin, start, values[origin : origin + horizon], fitted, naive))
    return Backtest(horizon, season, tuple(results))


def _score(
    origin: int,
    start: datetime | None,
    actual: Array,
    fitted: Sequence[ForecastPoint],
    naive: Array,
) -> Fold:
    predicted = np.array([p.value for p in fitted])
    return Fold(
        origin,
        start,
        mape(actual, predicted),
        mape(actual, naive),
        total_error(actual, predicted),
        total_error(actual, naive),
        float(np.mean([p.lower80 <= a <= p.upper80 for p, a in zip(fitted, actual, strict=True)])),
        float(np.mean([p.lower95 <= a <= p.upper95 for p, a in zip(fitted, actual, strict=True)])),
    )


def runout_step(
    points: Sequence[ForecastPoint],
    spent_so_far: float | Decimal,
    limit: float | Decimal,
    bound: Literal["value", "upper80", "upper95"] = "value",
) -> int | None:
    """The first step whose cumulative projected spend (``bound`` of each step: the point value,
    or an upper bound for a cautious date) reaches ``limit``; 0 when already spent, None when
    the horizon does not reach it."""
    spent, cap = float(spent_so_far), float(limit)
    if spent >= cap:
        return 0
    for point in points:
        spent += getattr(point, bound)
        if spent >= cap:
            return point.step
    return None


def runout(
    points: Sequence[ForecastPoint],
    spent_so_far: float | Decimal,
    limit: float | Decimal,
    bound: Literal["value", "upper80", "upper95"] = "value",
) -> date | None:
    """The date of ``runout_step`` (the first point's date when already spent); None when the
    horizon does not reach the limit or the points have no timestamps."""
    step = runout_step(points, spent_so_far, limit, bound)
    if step is None or not points:
        return None
    moment = points[max(step, 1) - 1].timestamp
    return moment.date() if moment is not None else None


def mape(actual: Array, predicted: Array) -> float:
    """Mean absolute percentage error (percent) over the non-zero actual values; NaN if none."""
    mask = actual != 0
    if not mask.any():
        return math.nan
    return float(np.mean(np.abs(actual[mask] - predicted[mask]) / np.abs(actual[mask]))) * 100


def total_error(actual: Array, predicted: Array) -> float:
    """The error of the predicted total, in percent of the actual total; NaN if that is 0."""
    total = float(actual.sum())
    return abs(float(predicted.sum()) - total) / abs(total) * 100 if total else math.nan


@dataclass(frozen=True)
class _Transform:
    shift: float | None  # None: the values themselves

    @classmethod
    def for_values(cls, values: Array) -> _Transform:
        if values.min() < 0 or values.max() <= 0:
            return cls(None)
        return cls(0.0 if values.min() > 0 else 0.1 * float(values.mean()))

    def forward(self, values: Array) -> Array:
        return values if self.shift is None else np.log(values + self.shift)

    def inverse(self, x: Array) -> Array:
        if self.shift is None:
            return x
        return np.maximum(np.exp(np.minimum(x, 700.0)) - self.shift, 0.0)


def _long_period(series: Series, season: int | None, n: int) -> int:
    """The profile's period: a week of steps for sub-daily data with three weeks of history,
    else ``season`` (1 without one)."""
    if season is None:
        return 1
    if series.step is not None and abs(series.step.total_seconds() * season - 86400) < 60:
        return 7 * season if n >= 21 * season else season
    return season


def _blend(x: Array, horizon: int, season: int | None, period: int) -> tuple[Array, Array, Method]:
    """The final path and the k-step errors (origins × steps, NaN past the data) of the blend
    of ETS and profile that does best over the recent origins."""
    n = len(x)
    window = min(n, max(ETS_POINTS, 3 * (season or 1)))
    first = min(max(n - window + (season or 5), min(PROFILE_CYCLES * period, n // 2)), n - 1)
    origins = np.arange(max(first, n - 1 - CHECK_ORIGINS - horizon), n)
    profile = _profile_paths(x, period, horizon, origins)
    choices: dict[Method, Array] = {"profile": profile}
    try:
        ets = _ets_paths(x[n - window :], season, horizon, origins - (n - window))
        choices |= {"ets": ets, "ets+profile": (ets + profile) / 2}
    except (ValueError, np.linalg.LinAlgError):  # a series statsmodels cannot fit
        pass
    steps = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    future = np.where(steps < n, x[np.minimum(steps, n - 1)], np.nan)
    scores = {k: float(np.nanmean(np.abs(future - v)[:-1])) for k, v in choices.items()}
    best = min(scores, key=lambda k: scores[k])
    paths = choices[best]
    return paths[-1], (future - paths)[:-1], best


def _ets_paths(x: Array, season: int | None, horizon: int, origins: NDArray[np.int64]) -> Array:
    """Holt-Winters (damped additive trend, additive season) k-step forecasts from each origin,
    read off the states of one fit."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    # Estimating the initial states of a long season is slow; a long season has the data for
    # the heuristic start (Hyndman & Athanasopoulos, fpp3 §8.6) instead.
    long = season is not None and season > 12 and len(x) >= 2 * season + 10
    model = ExponentialSmoothing(
        x, trend="add", damped_trend=True, seasonal="add" if season else None,
        seasonal_periods=season, initialization_method="heuristic" if long else "estimated",
    )  # fmt: skip
    fit = model.fit(use_brute=False)
    phi = float(fit.params["damping_trend"])
    damping = np.cumsum(phi ** np.arange(1, horizon + 1))
    level, trend = np.asarray(fit.level), np.asarray(fit.trend)
    paths = level[origins, None] + damping[None, :] * trend[origins, None]
    if season:
        phase = (np.arange(horizon) % season)[None, :]
        paths = paths + np.asarray(fit.season)[origins[:, None] - season + 1 + phase]
    return np.asarray(paths, dtype=np.float64)


def _profile_paths(x: Array, period: int, horizon: int, origins: NDArray[np.int64]) -> Array:
    """The mean of the last cycles of ``period`` at each phase, moved to the recent level."""
    sums = np.concatenate([[0.0], np.cumsum(x)])
    if period == 1:
        width = np.minimum(origins + 1, MIN_HISTORY)
        level = (sums[origins + 1] - sums[origins + 1 - width]) / width
        return np.repeat(level[:, None], horizon, axis=1)
    cycles = np.maximum(np.minimum((origins + 1) // period, PROFILE_CYCLES), 1)
    back = np.arange(1, PROFILE_CYCLES + 1)
    phase = np.arange(horizon) % period
    index = origins[:, None, None] + 1 + phase[None, :, None] - back[None, None, :] * period
    used = back[None, None, :] <= cycles[:, None, None]
    seasonal = np.where(used, x[np.maximum(index, 0)], 0.0).sum(axis=2) / cycles[:, None]
    span = cycles * period
    recent = np.minimum(LEVEL_CYCLES, cycles) * period
    shift = (sums[origins + 1] - sums[origins + 1 - recent]) / recent
    shift -= (sums[origins + 1] - sums[origins + 1 - span]) / span
    return np.asarray(seasonal + shift[:, None], dtype=np.float64)


def _error_bands(errors: Array, horizon: int) -> Array:
    """Per step: the 2.5, 10, 90, 97.5% quantiles of the errors (pooled over steps k±2) and
    their median; steps with fewer than 10 errors grow the last good step's by √k."""
    bands = np.zeros((horizon, 4))
    last_good: int | None = None
    for k in range(horizon):
        pool = errors[:, max(k - 2, 0) : k + 3]
        pool = pool[~np.isnan(pool)]
        if len(pool) >= 10:
            bands[k] = np.quantile(pool, QUANTILES)
            last_good = k
        elif last_good is not None:
            bands[k] = bands[last_good] * math.sqrt((k + 1) / (last_good + 1))
    return bands


def _burn_rate(series: Series, values: Array, horizon: int, season: int | None) -> Forecast:
    """The mean of the last week (or season) of values, with normal intervals from the spread."""
    recent = values[-min(len(values), max(7, season or 1)) :]
    rate = float(recent.mean())
    spread = float(values[-28:].std(ddof=1)) * math.sqrt(1 + 1 / len(recent))
    floor = 0.0 if values.min() >= 0 else -math.inf
    low80, low95 = max(rate - Z80 * spread, floor), max(rate - Z95 * spread, floor)
    bounds = (low80, rate + Z80 * spread, low95, rate + Z95 * spread)
    points = tuple(
        ForecastPoint(k, _future_time(series, k), rate, *bounds) for k in range(1, horizon + 1)
    )
    return Forecast(points, "burn_rate", season)


def _future_time(series: Series, step: int) -> datetime | None:
    if not series.timestamps or series.step is None:
        return None
    return series.timestamps[-1] + step * series.step


def _median(numbers: Sequence[float]) -> float:
    finite = [v for v in numbers if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan
