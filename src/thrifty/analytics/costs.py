"""Cost analysis from usage sums (pure): totals, unit costs, groups, top spenders, trends.

Input rows are the hour or day sums of ``storage.rollups`` (``bucket``, attribution columns,
``requests``, ``ok_requests``, token counts and ``cost_nano``). Money stays integer nano-USD;
unit costs are exact ``Decimal`` USD.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from thrifty.budgets.money import format_nano, format_usd

_NANO = Decimal(1_000_000_000)
SUMS = ("requests", "ok_requests", "input_tokens", "cached_input_tokens", "output_tokens")


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def grain(self) -> str:
        """The stored sums this granularity is read from."""
        return "hour" if self is Granularity.HOUR else "day"


def period_start(at: datetime, granularity: Granularity) -> datetime:
    """The start (UTC) of the hour, day, ISO week (Monday) or calendar month holding ``at``."""
    at = at.astimezone(UTC)
    if granularity is Granularity.HOUR:
        return at.replace(minute=0, second=0, microsecond=0)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity is Granularity.DAY:
        return day
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(start: datetime, granularity: Granularity) -> datetime:
    if granularity is Granularity.HOUR:
        return start + timedelta(hours=1)
    if granularity is Granularity.DAY:
        return start + timedelta(days=1)
    if granularity is Granularity.WEEK:
        return start + timedelta(days=7)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.replace(year=year, month=month)


@dataclass(frozen=True, slots=True)
class Totals:
    """Summed usage with its unit costs."""

    requests: int = 0
    ok_requests: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost_nano: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def plus(self, row: Mapping[str, Any]) -> Totals:
        return Totals(
            self.requests + int(row["requests"]),
            self.ok_requests + int(row["ok_requests"]),
            self.input_tokens + int(row["input_tokens"]),
            self.cached_input_tokens + int(row["cached_input_tokens"]),
            self.output_tokens + int(row["output_tokens"]),
            self.cost_nano + int(row["cost_nano"]),
        )

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.requests + other.requests,
            self.ok_requests + other.ok_requests,
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.cost_nano + other.cost_nano,
        )

    @property
    def cost(self) -> Decimal:
        return Decimal(self.cost_nano) / _NANO

    def per_request(self) -> Decimal | None:
        return _ratio(self.cost, self.requests)

    def per_1k_tokens(self) -> Decimal | None:
        return _ratio(self.cost * 1000, self.tokens)

    def per_successful_request(self) -> Decimal | None:
        return _ratio(self.cost, self.ok_requests)

    def json(self, of_total: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "cost": format_nano(self.cost_nano),
            "requests": self.requests,
            "successfulRequests": self.ok_requests,
            "failedRequests": self.requests - self.ok_requests,
            "inputTokens": self.input_tokens,
            "cachedInputTokens": self.cached_input_tokens,
            "outputTokens": self.output_tokens,
            "costPerRequest": _usd(self.per_request()),
            "costPer1kTokens": _usd(self.per_1k_tokens()),
            "costPerSuccessfulRequest": _usd(self.per_successful_request()),
        }
        if of_total is not None:
            share = _ratio(Decimal(self.cost_nano) * 100, of_total)
            body["sharePercent"] = None if share is None else format_usd(round(share, 2))
        return body


def _ratio(amount: Decimal, count: int) -> Decimal | None:
    if not count:
        return None
    return (amount / count).quantize(Decimal("1E-12")).normalize()


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else format_usd(value)


def total(rows: Iterable[Mapping[str, Any]]) -> Totals:
    found = Totals()
    for row in rows:
        found = found.plus(row)
    return found


def grouped(
    rows: Iterable[Mapping[str, Any]], keys: Sequence[str]
) -> dict[tuple[str, ...], Totals]:
    """Totals per value of ``keys``, costliest first."""
    groups: dict[tuple[str, ...], Totals] = defaultdict(Totals)
    for row in rows:
        key = tuple(str(row[k]) for k in keys)
        groups[key] = groups[key].plus(row)
    return dict(sorted(groups.items(), key=lambda item: (-item[1].cost_nano, item[0])))


def group_json(
    rows: Sequence[Mapping[str, Any]], key: str, name: str, *, limit: int | None = None
) -> list[dict[str, Any]]:
    """One object per value of ``key`` (called ``name``; "" shown as null), costliest first."""
    overall = total(rows).cost_nano
    groups = list(grouped(rows, [key]).items())[:limit]
    return [{name: value or None, **totals.json(overall)} for (value,), totals in groups]


def trend(
    rows: Iterable[Mapping[str, Any]],
    granularity: Granularity,
    start: datetime,
    end: datetime,
    key: str | None = None,
) -> list[dict[str, Any]]:
    """One point per period of ``[start, end)`` (empty periods included, at zero); with
    ``key``, each point splits its totals by that attribution."""
    periods: dict[datetime, dict[str, Totals]] = {}
    at = period_start(start, granularity)
    while at < end:
        periods[at] = {}
        at = next_period(at, granularity)
    for row in rows:
        bucket = period_start(row["bucket"], granularity)
        split = periods.setdefault(bucket, {})
        name = str(row[key]) if key is not None else ""
        split[name] = split.get(name, Totals()).plus(row)
    points = []
    for bucket, split in sorted(periods.items()):
        overall = sum(split.values(), Totals())
        point: dict[str, Any] = {"start": bucket.isoformat(), **overall.json()}
        if key is not None:
            point["groups"] = [
                {"value": name or None, **part.json(overall.cost_nano)}
                for name, part in sorted(split.items(), key=lambda kv: (-kv[1].cost_nano, kv[0]))
            ]
        points.append(point)
    return points


def daily_costs(
    rows: Iterable[Mapping[str, Any]], start: datetime, end: datetime
) -> list[tuple[datetime, int]]:
    """Cost in nano-USD per UTC day of ``[start, end)``, zero-filled (forecasts' input)."""
    days: dict[datetime, int] = {}
    at = period_start(start, Granularity.DAY)
    while at < end:
        days[at] = 0
        at += timedelta(days=1)
    for row in rows:
        day = period_start(row["bucket"], Granularity.DAY)
        if day in days:
            days[day] += int(row["cost_nano"])
    return sorted(days.items())
