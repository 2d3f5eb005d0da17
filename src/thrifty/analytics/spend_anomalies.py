"""Anomalies in a scope's spend and request volume, with their root cause (pure).

Input: the scope's usage sums per hour or day (``storage.rollups`` rows with ``bucket``, the
attribution columns ``model``, ``key_id``, ``user_id``, ``team_id`` and the sums), covering a
history before the range to judge. The totals per bucket (zero-filled) go through
``analytics.anomaly.detect`` — daily and weekly seasons for hourly data, weekly for daily —
and so does each model's own series. For each flagged bucket in the range the **root cause**
compares the bucket with its baseline — the mean of the same phase in the previous
``BASELINE_PERIODS`` weeks (hourly: the same hour of the week; daily: the same weekday) — per
model, key, user and team: the value whose change is the largest share of the total change, in
the anomaly's direction, is named, with that share.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from thrifty.analytics.anomaly import Anomaly, Direction, Thresholds, detect

_NANO = Decimal(1_000_000_000)
BASELINE_PERIODS = 4
CAUSE_DIMENSIONS = ("model", "key_id", "user_id", "team_id", "tag")
SPECIFICITY = ("key_id", "model", "user_id", "tag", "team_id")
METRICS = {"cost": "cost_nano", "requests": "requests"}
#: Spend is judged without the "new low" check: a quiet weekend hour below every recent one is
#: not worth an alert (drops beyond the usual spread are still flagged by the point check).
SPEND_THRESHOLDS = Thresholds(new_low=math.inf)


@dataclass(frozen=True, slots=True)
class Cause:
    dimension: str
    value: str | None
    actual: Decimal
    expected: Decimal
    share: Decimal  # of the total change, 0–1 (can pass 1 when others moved the other way)


@dataclass(frozen=True, slots=True)
class SpendAnomaly:
    metric: str
    model: str | None  # None: the scope's total
    anomaly: Anomaly
    bucket: datetime
    value: Decimal  # USD for cost, a count for requests
    expected: Decimal | None
    delta: Decimal | None
    cost_delta: Decimal | None  # USD, for both metrics
    causes: tuple[Cause, ...]

    @property
    def root_cause(self) -> Cause | None:
        """The cause explaining the most of the change; among those within 10% of the most,
        the most specific (a key before its user, a model, a tag, a team)."""
        best = max((c.share for c in self.causes), default=None)
        if best is None:
            return None
        near = [c for c in self.causes if c.share >= best * Decimal("0.9")]
        return min(near, key=lambda c: SPECIFICITY.index(c.dimension))


def _buckets(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    found = []
    at = start
    while at < end:
        found.append(at)
        at += step
    return found


def _amount(metric: str, raw: float | int) -> Decimal:
    return Decimal(int(raw)) / _NANO if metric == "cost" else Decimal(int(raw))


def totals(
    rows: Sequence[Mapping[str, Any]], buckets: Sequence[datetime], column: str,
    model: str | None = None,
) -> list[float]:  # fmt: skip
    index = {b: i for i, b in enumerate(buckets)}
    values = [0.0] * len(buckets)
    for row in rows:
        if model is not None and row["model"] != model:
            continue
        i = index.get(row["bucket"])
        if i is not None:
            values[i] += float(row[column])
    return values


def _baseline_buckets(bucket: datetime) -> list[datetime]:
    week = timedelta(days=7)
    return [bucket - week * k for k in range(1, BASELINE_PERIODS + 1)]


def causes_of(
    views: Mapping[str, Sequence[Mapping[str, Any]]],
    bucket: datetime,
    column: str,
    metric: str,
    direction: Direction,
    model: str | None = None,
) -> tuple[Cause, ...]:
    """Per dimension, the value that moved most in ``direction`` against its baseline (for one
    model's series, only views that split that model's rows)."""
    before = set(_baseline_buckets(bucket))
    found = []
    for dimension in CAUSE_DIMENSIONS:
        source = views.get(dimension, ())
        now: dict[str, float] = defaultdict(float)
        then: dict[str, float] = defaultdict(float)
        for row in source:
            if model is not None and row.get("model") != model:
                continue
            key = str(row.get(dimension) or "")
            if row["bucket"] == bucket:
                now[key] += float(row[column])
            elif row["bucket"] in before:
                then[key] += float(row[column]) / BASELINE_PERIODS
        if not now and not then:
            continue
        change = {k: now.get(k, 0.0) - then.get(k, 0.0) for k in set(now) | set(then)}
        total = sum(change.values())
        sign = 1 if direction is Direction.SPIKE else -1
        key, moved = max(change.items(), key=lambda kv: (sign * kv[1], kv[0]))
        if sign * moved <= 0:
            continue
        share = Decimal(moved / total).quantize(Decimal("0.001")) if total else Decimal(1)
        found.append(
            Cause(
                dimension, key or None, _amount(metric, now.get(key, 0.0)),
                _amount(metric, round(then.get(key, 0.0))), share,
            )
        )  # fmt: skip
    return tuple(found)


def find_anomalies(
    views: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    history_start: datetime,
    start: datetime,
    end: datetime,
    step: timedelta,
    metrics: Sequence[str] = ("cost", "requests"),
    models: Sequence[str] = (),
    threshold: float = 1.0,
) -> list[SpendAnomaly]:
    """Flags in ``[start, end)`` of the scope's totals (``views["total"]``) and of each of
    ``models`` (``views["model"]``), judged on the buckets from ``history_start`` on; newest
    first. ``views`` maps "total" and each cause dimension to rows per bucket and value."""
    buckets = _buckets(history_start, end, step)
    # The record starts where the scope first spent: the empty buckets before it are no
    # history at all, not a run of zero spend that its first day would be a spike against.
    spent = totals(views["total"], buckets, "cost_nano", None)
    first = next((i for i, v in enumerate(spent) if v), len(buckets))
    buckets = buckets[first:]
    seasons: tuple[int, ...] = (24, 168) if step == timedelta(hours=1) else (7,)
    found = []
    for metric in metrics:
        column = METRICS[metric]
        for model in (None, *models):
            rows = views["total"] if model is None else views.get("model", ())
            values = totals(rows, buckets, column, model)
            costs = totals(rows, buckets, "cost_nano", model)
            if not any(values):
                continue
            flagged = detect(
                values, buckets, season=seasons, thresholds=SPEND_THRESHOLDS, threshold=threshold
            )
            for anomaly in flagged:
                bucket = buckets[anomaly.index]
                if bucket < start:
                    continue
                expected = None if anomaly.expected is None else max(anomaly.expected, 0.0)
                value = _amount(metric, anomaly.value)
                exp = None if expected is None else _amount(metric, round(expected))
                found.append(
                    SpendAnomaly(
                        metric, model, anomaly, bucket, value, exp,
                        None if exp is None else value - exp,
                        None if exp is None else _cost_delta(costs, buckets, anomaly.index),
                        causes_of(views, bucket, column, metric, anomaly.direction, model),
                    )
                )  # fmt: skip
    found.sort(key=lambda a: (a.bucket, a.anomaly.score), reverse=True)
    return found


def _cost_delta(series: Sequence[float], buckets: Sequence[datetime], index: int) -> Decimal:
    """The bucket's cost minus its baseline (the same phase of the previous weeks), in USD."""
    position = {b: i for i, b in enumerate(buckets)}
    earlier = [series[position[b]] for b in _baseline_buckets(buckets[index]) if b in position]
    baseline = sum(earlier) / len(earlier) if earlier else 0.0
    return (Decimal(round(series[index] - baseline)) / _NANO).quantize(Decimal("1E-9"))
