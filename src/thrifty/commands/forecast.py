"""``thrifty forecast --input spend.csv --horizon 30``: project a series, with 80/95% intervals.

Reads a CSV of a time column and a value column (found by ``read_series``, or named by
``--time-col`` / ``--value-col``), or a file of one number a line (a series without
timestamps: give its period with ``--season`` if it has one). The horizon counts steps of the
series' own frequency, inferred from its timestamps: days for daily data, hours for hourly.

stdout gets one row per future step — ``step``, ``timestamp`` (ISO 8601, UTC; null/empty
without timestamps), ``value``, ``lower80``, ``upper80``, ``lower95``, ``upper95`` — as a JSON
array (``--format json``), CSV with a header (``--format csv``) or an aligned table (the
default). ``--backtest`` also refits at up to ``--folds`` rolling origins (the last
non-overlapping windows of the horizon) and writes, to stderr so that stdout keeps its shape,
each fold's MAPE beside the seasonal-naive one and the medians: one JSON object with
``--format json``, else a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from thrifty.analytics.forecast import Backtest, Forecast, ForecastPoint, backtest, forecast
from thrifty.analytics.series import Series
from thrifty.commands.tabular import aligned, csv_text, read_input
from thrifty.errors import InvalidInput

COLUMNS = ("step", "timestamp", "value", "lower80", "upper80", "lower95", "upper95")
MAX_FOLDS = 12


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("forecast", help="forecast a series (CSV) with intervals")
    parser.add_argument("--input", required=True, help="CSV file: a time and a value column")
    parser.add_argument(
        "--horizon", type=int, default=30, help="steps to forecast, at the series' frequency"
    )
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table")
    parser.add_argument("--time-col", help="the time column (default: detected)")
    parser.add_argument("--value-col", help="the value column (default: detected)")
    parser.add_argument(
        "--season", type=int, help="seasonal period in steps (default: from the timestamps)"
    )
    parser.add_argument(
        "--backtest", action="store_true", help="also report MAPE over rolling origins (stderr)"
    )
    parser.add_argument(
        "--folds", type=int, help=f"rolling origins of --backtest (default: up to {MAX_FOLDS})"
    )
    parser.set_defaults(run=run_forecast)


def run_forecast(args: argparse.Namespace) -> int:
    if args.horizon < 1:
        raise InvalidInput("--horizon must be at least 1", field="--horizon")
    if args.season is not None and args.season < 1:
        raise InvalidInput("--season must be at least 1", field="--season")
    if args.folds is not None and args.folds < 1:
        raise InvalidInput("--folds must be at least 1", field="--folds")
    series = read_input(args.input, args.time_col, args.value_col, otherwise=None)
    if len(series) < 2:
        raise InvalidInput(f"{args.input}: need at least 2 values", field="--input")
    result = forecast(series, args.horizon, args.season)
    sys.stdout.write(render(result, args.format))
    if args.backtest:
        sys.stderr.write(render_backtest(_backtest(series, args), args.format))
    return 0


def render(result: Forecast, form: str) -> str:
    """The forecast as a JSON array, CSV or an aligned table."""
    rows = [_row(point) for point in result.points]
    if form == "json":
        return json.dumps(rows, indent=2) + "\n"
    if form == "csv":
        return csv_text(rows, COLUMNS)
    cells = [[str(r["step"]), r["timestamp"] or "-", *(f"{r[c]:.6g}" for c in COLUMNS[2:])]
             for r in rows]  # fmt: skip
    return aligned(list(COLUMNS), cells) + f"method: {result.method}, season: {result.season}\n"


def render_backtest(report: Backtest, form: str) -> str:
    folds = [
        {
            "origin": f.origin,
            "start": f.start.isoformat() if f.start else None,
            "mape": _round(f.mape),
            "naive_mape": _round(f.naive_mape),
            "total_error": _round(f.total_error),
            "coverage80": _round(f.coverage80),
            "coverage95": _round(f.coverage95),
        }
        for f in report.folds
    ]
    summary = {
        "median_mape": _round(report.median_mape),
        "median_naive_mape": _round(report.median_naive_mape),
        "improvement": _round(report.improvement),
        "coverage80": _round(report.coverage80),
        "coverage95": _round(report.coverage95),
    }
    if form == "json":
        body = {"horizon": report.horizon, "season": report.season, "folds": folds, **summary}
        return json.dumps(body) + "\n"
    cells = [[_cell(v) for v in fold.values()] for fold in folds]
    text = f"backtest: {len(folds)} folds of {report.horizon} steps, season {report.season}\n"
    text += aligned(list(folds[0]), cells)
    return text + " ".join(f"{k}={_cell(v)}" for k, v in summary.items()) + "\n"


def _backtest(series: Series, args: argparse.Namespace) -> Backtest:
    fitting = (len(series) - 2) // args.horizon
    folds = args.folds or min(MAX_FOLDS, fitting)
    if folds < 1 or folds > fitting:
        raise InvalidInput(
            f"--backtest: {len(series)} values hold {max(fitting, 0)} folds of {args.horizon} "
            "steps",
            field="--folds",
        )
    return backtest(series, args.horizon, folds=folds, season=args.season)


def _row(point: ForecastPoint) -> dict[str, Any]:
    return {
        "step": point.step,
        "timestamp": point.timestamp.isoformat() if point.timestamp else None,
        **{c: _round(getattr(point, c)) for c in COLUMNS[2:]},
    }


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _round(number: float) -> float | None:
    return None if number != number else round(number, 6)  # NaN → null
