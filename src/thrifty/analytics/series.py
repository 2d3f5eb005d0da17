"""Time series read from CSV: values, their aware-UTC timestamps and the regular step.

``read_series`` takes a path (or the lines of a file) and picks its columns so:

* **No header.** When every cell of the first row is a number or a timestamp, the file has no
  header; its columns are named by position, ``"1"``, ``"2"``, …  A file of one number a line
  is a series without timestamps.
* **Time column** (unless ``time_col`` names one): among the columns whose every cell parses as
  a date or datetime (and is not a plain number), the first one named like a time
  (``TIME_NAMES``: timestamp, datetime, date, time, dteday, ds, …), else the first one. No such
  column: the series has no timestamps.
* **Value column** (unless ``value_col`` names one): among the other columns whose every cell
  is a finite number, the first one with a name of ``VALUE_NAMES`` in that order (value, cost,
  spend, amount, total, cnt, count, y), else the first one.

Timestamps are ISO 8601 (``2024-05-01``, ``2024-05-01 13:45:00``, ``…T13:45:00+02:00``, ``…Z``)
or ``YYYY/MM/DD`` and ``MM/DD/YYYY`` with an optional ``HH:MM[:SS]``. Naive ones are taken as
UTC; all are converted to UTC and the rows sorted by time (rows at one time keep their order:
NAB has a few such repeats; a time column where most rows repeat, as a date beside an hour
column, is an error).
``step`` is the median difference between consecutive timestamps, so irregular series (NAB's
realTraffic) get their typical step. Bad input raises ``InvalidInput`` naming line and column.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from thrifty.errors import InvalidInput

TIME_NAMES = ("timestamp", "datetime", "date", "time", "dteday", "ds", "day", "period")
VALUE_NAMES = ("value", "cost", "spend", "amount", "total", "cnt", "count", "y")
_FORMATS = (
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Series:
    """Values in time order; ``timestamps`` (aware UTC) and ``step`` are None without times."""

    values: tuple[float, ...]
    timestamps: tuple[datetime, ...] | None = None
    step: timedelta | None = None

    def __post_init__(self) -> None:
        if self.timestamps is not None and len(self.timestamps) != len(self.values):
            raise ValueError("timestamps and values differ in length")

    def __len__(self) -> int:
        return len(self.values)

    def head(self, count: int) -> Series:
        """The first ``count`` values (the history at an origin), with the same step."""
        times = self.timestamps[:count] if self.timestamps is not None else None
        return Series(self.values[:count], times, self.step)


def build_series(values: Iterable[float], timestamps: Iterable[datetime] | None = None) -> Series:
    """A ``Series`` of values and (optionally) their timestamps, sorted (stably), step inferred."""
    numbers = tuple(float(v) for v in values)
    if timestamps is None:
        return Series(numbers)
    times = [as_utc(t) for t in timestamps]
    if len(times) != len(numbers):
        raise InvalidInput("timestamps and values differ in length", field="timestamps")
    pairs = sorted(zip(times, numbers, strict=True), key=lambda pair: pair[0])
    ordered = tuple(t for t, _ in pairs)
    return Series(tuple(v for _, v in pairs), ordered, median_step(ordered))


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def median_step(timestamps: Sequence[datetime]) -> timedelta | None:
    """The median difference between consecutive timestamps (None with fewer than two)."""
    if len(timestamps) < 2:
        return None
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(timestamps)]
    return timedelta(seconds=statistics.median(gaps))


def infer_season(series: Series) -> int | None:
    """The seasonal period in steps, from the step: sub-daily steps that divide a day → one day
    (hourly 24, 5-minute 288), daily → 7 (a week). Yearly cycles need two full years of data:
    weekly → 52, monthly → 12, quarterly → 4. None without timestamps or for other steps."""
    step = series.step
    if step is None or step <= timedelta(0):
        return None
    if step < _DAY * 0.99:
        ratio = _DAY / step
        periods = round(ratio)
        return periods if periods >= 2 and abs(ratio - periods) <= 0.01 * periods else None
    days = step / _DAY
    if abs(days - 1) <= 0.01:
        return 7
    for low, high, period in ((6.9, 7.1, 52), (28, 31, 12), (89, 92, 4)):
        if low <= days <= high:
            return period if len(series) >= 2 * period else None
    return None


def parse_timestamp(text: str) -> datetime | None:
    """The aware-UTC datetime ``text`` spells, or None (plain numbers are not timestamps)."""
    text = text.strip()
    if not text or _is_number(text):
        return None
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    for form in _FORMATS:
        try:
            return datetime.strptime(text, form).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def read_series(
    source: str | os.PathLike[str] | Iterable[str],
    time_col: str | None = None,
    value_col: str | None = None,
) -> Series:
    """The series of a CSV file (a path) or of its lines; see the module docstring."""
    rows = _read_rows(source)
    if not rows:
        raise InvalidInput("the file has no rows", field="input")
    first = rows[0]
    headerless = all(_is_number(c) or parse_timestamp(c) is not None for c in first)
    if headerless:
        names = [str(i) for i in range(1, len(first) + 1)]
        body = list(enumerate(rows, start=1))
    else:
        names = [c.strip() for c in first]
        body = list(enumerate(rows[1:], start=2))
    if not body:
        raise InvalidInput("the file has a header but no data rows", field="input")
    for line, row in body:
        if len(row) != len(names):
            raise InvalidInput(
                f"line {line}: {len(row)} cells where the header has {len(names)}", field="input"
            )
    columns = {name: [row[i].strip() for _, row in body] for i, name in enumerate(names)}
    lines = [line for line, _ in body]
    time_name = _time_column(columns, time_col)
    value_name = _value_column(columns, value_col, exclude=time_name)
    values = [_number(c, n, value_name) for c, n in zip(columns[value_name], lines, strict=True)]
    if time_name is None:
        return Series(tuple(values))
    times = [_timestamp(c, n, time_name) for c, n in zip(columns[time_name], lines, strict=True)]
    series = build_series(values, times)
    if series.step is not None and series.step <= timedelta(0):
        raise InvalidInput(
            f"column {time_name!r}: most rows repeat the time of the row before "
            f"({len(set(times))} distinct times in {len(times)} rows); name another time column "
            "or add the rows of a time up",
            field=time_name,
        )
    return series


def _read_rows(source: str | os.PathLike[str] | Iterable[str]) -> list[list[str]]:
    if isinstance(source, str | os.PathLike):
        try:
            text = Path(source).read_text("utf-8-sig")
        except OSError as exc:
            raise InvalidInput(f"{source}: cannot read: {exc.strerror}", field="input") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{source}: not UTF-8 text", field="input") from None
        lines: Iterable[str] = text.splitlines()
    else:
        lines = source
    try:
        rows = list(csv.reader(line for line in lines if line.strip()))
    except csv.Error as exc:
        raise InvalidInput(f"not CSV: {exc}", field="input") from None
    return rows


def _time_column(columns: dict[str, list[str]], wanted: str | None) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise InvalidInput(_missing(wanted, columns), field="time_col")
        return wanted
    parsing = [n for n, cells in columns.items() if all(parse_timestamp(c) for c in cells)]
    named = [n for n in parsing if n.lower() in TIME_NAMES]
    if named or parsing:
        return (named or parsing)[0]
    for name, cells in columns.items():  # a time-named column that starts as one: report it
        if name.lower() in TIME_NAMES and parse_timestamp(cells[0]) is not None:
            return name
    return None


def _value_column(columns: dict[str, list[str]], wanted: str | None, exclude: str | None) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise InvalidInput(_missing(wanted, columns), field="value_col")
        if wanted == exclude:
            raise InvalidInput(f"column {wanted!r} is the time column", field="value_col")
        return wanted
    numeric = [
        n for n, cells in columns.items() if n != exclude and all(_is_number(c) for c in cells)
    ]
    if not numeric:
        for name, cells in columns.items():  # a column that starts numeric: report its bad cell
            if name != exclude and _is_number(cells[0]):
                return name
        raise InvalidInput(
            "no column holds only numbers; name one with value_col (--value-col)",
            field="value_col",
        )
    by_name = {n.lower(): n for n in numeric}
    for preferred in VALUE_NAMES:
        if preferred in by_name:
            return by_name[preferred]
    return numeric[0]


def _missing(name: str, columns: dict[str, list[str]]) -> str:
    return f"no column {name!r} (columns: {', '.join(columns)})"


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _number(cell: str, line: int, column: str) -> float:
    try:
        number = float(cell)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise InvalidInput(
            f"line {line}: column {column!r}: {cell!r} is not a number", field=column
        )
    return number


def _timestamp(cell: str, line: int, column: str) -> datetime:
    moment = parse_timestamp(cell)
    if moment is None:
        raise InvalidInput(
            f"line {line}: column {column!r}: {cell!r} is not a date or timestamp", field=column
        )
    return moment
