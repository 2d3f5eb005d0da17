"""Cross-validated figures of the spend forecaster against the seasonal-naive forecast.

    .venv/bin/python benchmarks/forecast.py [--data DIR] [--hourly-folds 12]

Rolling origins, refitting at each: for ``day.csv`` (``cnt``), the last 12 non-overlapping
30-day windows (origins 371, 401, …, 701; the second year), and for transparency the windows
starting on day 365 + 30k. For ``hour.csv`` (``cnt`` on a full hourly grid from ``dteday`` +
``hr``, the 165 absent hours had no rentals: 0), 24- and 168-hour horizons at the last 12
origins 30 days apart. Each fold's MAPE is beside the seasonal-naive forecast's on the same
fold (daily: repeat the last week; hourly: the last day, and the last week as a second
baseline). Coverage is the share of held-out values inside the 80% and 95% intervals.

Two forecasts told the future bound what any forecaster of the series alone can reach on the
daily folds: the best constant for each window, and a least-squares fit of level, trend and
weekday to the window itself. Fit time is the fastest and the median of repeated ``forecast``
calls on the whole series (a shared machine: the fastest is the machine's own speed).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from thrifty.analytics.forecast import Backtest, backtest, forecast, mape
from thrifty.analytics.series import Series, build_series, read_series

DATA = Path(__file__).resolve().parents[1].parent / "shared/data/series/forecast/bike_sharing"


def hourly_series(path: Path) -> Series:
    counts: dict[datetime, float] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            day = datetime.fromisoformat(row["dteday"]).replace(tzinfo=UTC)
            counts[day + timedelta(hours=int(row["hr"]))] = float(row["cnt"])
    first, last = min(counts), max(counts)
    count = int((last - first) / timedelta(hours=1)) + 1
    hours = [first + timedelta(hours=h) for h in range(count)]
    return build_series([counts.get(h, 0.0) for h in hours], hours)


def summary(report: Backtest) -> dict[str, Any]:
    return {
        "folds": len(report.folds),
        "origins": [f.origin for f in report.folds],
        "mape": [round(f.mape, 2) for f in report.folds],
        "naiveMape": [round(f.naive_mape, 2) for f in report.folds],
        "medianMape": round(report.median_mape, 2),
        "medianNaiveMape": round(report.median_naive_mape, 2),
        "ratio": round(report.median_mape / report.median_naive_mape, 3),
        "improvement": round(report.improvement, 3),
        "medianTotalError": round(report.median_total_error, 2),
        "medianNaiveTotalError": round(report.median_naive_total_error, 2),
        "coverage80": round(report.coverage80, 3),
        "coverage95": round(report.coverage95, 3),
    }


def told_the_future(values: np.ndarray, origins: list[int], horizon: int) -> dict[str, float]:
    """Median MAPE of two forecasts that see the window they forecast."""
    flat, fitted = [], []
    for origin in origins:
        actual = values[origin : origin + horizon]
        candidates = np.median(actual) * np.linspace(0.3, 1.2, 301)
        flat.append(min(mape(actual, np.full(horizon, c)) for c in candidates))
        weekday = [(np.arange(origin, origin + horizon) % 7 == d).astype(float) for d in range(6)]
        design = np.column_stack([np.ones(horizon), np.arange(horizon), *weekday])
        beta = np.linalg.lstsq(design, np.log(actual), rcond=None)[0]
        fitted.append(mape(actual, np.exp(design @ beta)))
    return {
        "bestConstantMedianMape": round(statistics.median(flat), 2),
        "levelTrendWeekdayFitMedianMape": round(statistics.median(fitted), 2),
    }


def seasonal_naive(values: np.ndarray, origins: list[int], horizon: int, lag: int) -> float:
    errors = [
        mape(values[o : o + horizon], np.resize(values[o - lag : o], horizon)) for o in origins
    ]
    return round(statistics.median(errors), 2)


def fit_time(series: Series, horizon: int, repeats: int = 15) -> dict[str, float]:
    """Milliseconds per ``forecast`` call: the fastest (the machine idle) and the median."""
    forecast(series, horizon)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        forecast(series, horizon)
        timings.append((time.perf_counter() - started) * 1000)
    return {"min": round(min(timings), 1), "median": round(statistics.median(timings), 1)}


def daily_figures(path: Path) -> dict[str, Any]:
    series = read_series(path)
    values = np.asarray(series.values)
    report = backtest(series, 30, folds=12)
    origins = [f.origin for f in report.folds]
    second_year = list(range(365, len(values) - 30 + 1, 30))
    mapes = [
        mape(values[o : o + 30], np.array([p.value for p in forecast(series.head(o), 30).points]))
        for o in second_year
    ]
    return {
        "series": f"{path.name} cnt, {len(values)} days, horizon 30",
        "lastTwelveWindows": summary(report),
        "toldTheFuture": told_the_future(values, origins, 30),
        "target40PercentBelowNaive": round(0.6 * report.median_naive_mape, 2),
        "windowsFromDay365": {
            "origins": second_year,
            "medianMape": round(statistics.median(mapes), 2),
            "medianNaiveMape": seasonal_naive(values, second_year, 30, 7),
            "toldTheFuture": told_the_future(values, second_year, 30),
        },
        "fitMilliseconds": fit_time(series, 30),
        "fitMilliseconds365Days": fit_time(Series(series.values[-365:]), 30),
    }


def hourly_figures(path: Path, folds: int) -> dict[str, Any]:
    series = hourly_series(path)
    values = np.asarray(series.values)
    figures: dict[str, Any] = {"series": f"{path.name} cnt, {len(values)} hours"}
    for horizon in (24, 168):
        report = backtest(series, horizon, folds=folds, every=24 * 30)
        origins = [f.origin for f in report.folds]
        figures[f"horizon{horizon}"] = {
            **summary(report),
            "medianWeeklyNaiveMape": seasonal_naive(values, origins, horizon, 168),
        }
    figures["fitMilliseconds"] = fit_time(series, 168, repeats=5)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DATA), help="folder of day.csv and hour.csv")
    parser.add_argument("--hourly-folds", type=int, default=12)
    args = parser.parse_args()
    folder = Path(args.data)
    report = {
        "daily": daily_figures(folder / "day.csv"),
        "hourly": hourly_figures(folder / "hour.csv", args.hourly_folds),
    }
    text = json.dumps(report, indent=2)
    print(re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: f"[{' '.join(m[1].split())}]", text))


if __name__ == "__main__":
    main()
