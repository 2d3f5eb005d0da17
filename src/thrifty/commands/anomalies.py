"""``thrifty anomalies --input series.csv``: flag the anomalies of a series.

Reads a CSV of a time column and a value column (found by ``read_series``, or named by
``--time-col`` / ``--value-col``), or a file of one number a line, and runs the gateway's
detector (``analytics.anomaly``) on it: each point judged on the points before it, seasons from
the timestamps' step (a day for sub-daily data, plus a week from four weeks of data; a week for
daily data) unless ``--season`` names them, one flag per episode.

stdout gets one row per flagged point — ``index``, ``timestamp`` (ISO 8601, UTC; null/empty
without timestamps), ``value``, ``expected``, ``score``, ``severity``, ``direction`` (spike or
drop) and ``check`` (point, shift or range) — as a JSON array (``--format json``), CSV with a
header (``--format csv``) or an aligned table (the default). ``--sensitivity`` or
``--threshold`` sets the score that flags a point.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from thrifty.analytics.anomaly import SENSITIVITY, Anomaly, detect_series
from thrifty.commands.tabular import aligned, csv_text, read_input
from thrifty.errors import InvalidInput

COLUMNS = ("index", "timestamp", "value", "expected", "score", "severity", "direction", "check")


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("anomalies", help="flag the anomalies of a series (CSV)")
    parser.add_argument("--input", required=True, help="CSV file: a time and a value column")
    parser.add_argument("--format", choices=["table", "json", "csv"], default="table")
    parser.add_argument("--time-col", help="the time column (default: detected)")
    parser.add_argument("--value-col", help="the value column (default: detected)")
    parser.add_argument(
        "--season",
        help="seasonal period(s) in steps, e.g. 24 or 24,168; 0 for none "
        "(default: from the timestamps)",
    )
    level = parser.add_mutually_exclusive_group()
    level.add_argument(
        "--sensitivity",
        choices=list(SENSITIVITY),
        help="low, medium (default) or high: flag from score 1.5, 1 or 0.75",
    )
    level.add_argument("--threshold", type=float, help="the score that flags a point")
    parser.add_argument(
        "--warmup", type=int, help="points at the start never flagged (default: 2-3 seasons)"
    )
    parser.set_defaults(run=run_anomalies)


def run_anomalies(args: argparse.Namespace) -> int:
    threshold = _threshold(args)
    seasons = _seasons(args.season)
    if args.warmup is not None and args.warmup < 0:
        raise InvalidInput("--warmup must be 0 or more", field="--warmup")
    series = read_input(args.input, args.time_col, args.value_col)
    found = detect_series(series, season=seasons, threshold=threshold, warmup=args.warmup)
    sys.stdout.write(render(found, args.format))
    return 0


def render(found: list[Anomaly], form: str) -> str:
    """The flagged points as a JSON array, CSV or an aligned table."""
    rows = [_row(a) for a in found]
    if form == "json":
        return json.dumps(rows, indent=2) + "\n"
    if form == "csv":
        return csv_text(rows, COLUMNS)
    if not rows:
        return "no anomalies\n"
    return aligned(COLUMNS, [[_cell(r[c]) for c in COLUMNS] for r in rows])


def _row(anomaly: Anomaly) -> dict[str, Any]:
    body = anomaly.json()
    return {c: body[c] for c in COLUMNS}


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _threshold(args: argparse.Namespace) -> float:
    if args.threshold is not None:
        if not (math.isfinite(args.threshold) and args.threshold > 0):
            raise InvalidInput("--threshold must be a positive number", field="--threshold")
        return float(args.threshold)
    return SENSITIVITY[args.sensitivity or "medium"]


def _seasons(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        seasons = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput(
            f"--season: {text!r} is not whole numbers, e.g. 24 or 24,168", field="--season"
        ) from None
    if not seasons or any(s < 0 for s in seasons):
        raise InvalidInput("--season: periods of 0 or more steps", field="--season")
    return tuple(s for s in seasons if s > 0)
