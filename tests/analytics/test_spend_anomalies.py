from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from thrifty.analytics.spend_anomalies import find_anomalies

DAY = timedelta(days=1)
START = datetime(2026, 9, 1, tzinfo=UTC)


def _views(costs: list[float]) -> dict[str, list[dict[str, Any]]]:
    rows = [
        {
            "bucket": START + i * DAY,
            "model": "gpt-4o",
            "key_id": "k1",
            "user_id": "ann",
            "team_id": "eng",
            "tag": None,
            "cost_nano": int(c * 1e9),
            "requests": 10,
        }
        for i, c in enumerate(costs)
        if c
    ]
    return {k: rows for k in ("total", "model", "key_id", "user_id", "team_id", "tag")}


def _flagged(costs: list[float]) -> list[datetime]:
    found = find_anomalies(
        _views(costs), history_start=START, start=START, end=START + len(costs) * DAY,
        step=DAY, metrics=("cost",),
    )  # fmt: skip
    return [a.bucket for a in found]


def test_the_first_day_of_spend_is_not_a_spike_against_the_days_before_it() -> None:
    steady = [1.0 + 0.1 * (i % 3) for i in range(40)]
    assert _flagged([0.0] * 20 + steady) == []


def test_a_spike_after_the_spend_began_is_still_found() -> None:
    steady = [1.0 + 0.1 * (i % 3) for i in range(40)]
    steady[35] = 12.0
    assert _flagged([0.0] * 20 + steady) == [START + 55 * DAY]
