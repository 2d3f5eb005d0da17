"""The Chart.js configurations of the analytics page, from hand-made API answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from thrifty.ui import charts


def point(start: str, cost: str, groups: dict[str, str] | None = None, **extra: Any) -> Any:
    body: dict[str, Any] = {"start": start, "cost": cost, "requests": 1,
                            "costPerRequest": cost, **extra}  # fmt: skip
    if groups is not None:
        body["groups"] = [{"value": k, "cost": v} for k, v in groups.items()]
    return body


def test_series_past_the_limit_are_merged_into_other() -> None:
    # Ten models over two days: m0 is the costliest, m9 the cheapest.
    days = [
        point("2026-11-01T00:00:00+00:00", "0", {f"m{i}": f"{10 - i}.10" for i in range(10)}),
        point("2026-11-02T00:00:00+00:00", "0", {f"m{i}": "1" for i in range(0, 10, 3)}),
    ]
    series = charts.split_series(days)
    assert [s.name for s in series] == [*(f"m{i}" for i in range(7)), "other"]
    assert series[0].costs == (Decimal("10.10"), Decimal("1"))
    # other: m7 + m8 + m9 on the first day, m9 alone on the second
    assert series[-1].costs == (Decimal("3.10") + Decimal("2.10") + Decimal("1.10"), Decimal("1"))
    assert sum(sum(s.costs) for s in series) == sum(
        Decimal(g["cost"]) for d in days for g in d["groups"]
    )


def test_few_series_are_kept_and_an_unsplit_trend_is_one_series() -> None:
    days = [point("2026-11-01T00:00:00+00:00", "3", {"a": "1", "b": "2"}),
            point("2026-11-02T00:00:00+00:00", "0", {})]  # fmt: skip
    series = charts.split_series(days)
    assert [(s.name, s.costs) for s in series] == [
        ("b", (Decimal(2), Decimal(0))),
        ("a", (Decimal(1), Decimal(0))),
    ]
    none = charts.split_series([point("2026-11-01T00:00:00+00:00", "1", {None: "1"})])  # type: ignore[dict-item]
    assert none[0].name == charts.UNATTRIBUTED
    plain = charts.split_series([point("2026-11-01T00:00:00+00:00", "4.5")])
    assert [(s.name, s.costs) for s in plain] == [("Spend", (Decimal("4.5"),))]


@pytest.mark.parametrize(
    ("granularity", "label"),
    [("hour", "2026-11-02T13:00"), ("day", "2026-11-02"), ("week", "2026-11-02"),
     ("month", "2026-11")],
)  # fmt: skip
def test_labels_are_category_strings(granularity: str, label: str) -> None:
    assert charts.label_of("2026-11-02T13:00:00+00:00", granularity) == label


ANOMALY = {
    "timestamp": "2026-11-11T00:00:00+00:00", "metric": "cost", "model": "gpt-4o",
    "value": "25.00", "expected": "0.85", "direction": "spike", "severity": "critical",
    "rootCause": {"dimension": "model", "value": "gpt-4o", "shareOfChange": "0.962"},
}  # fmt: skip


def test_the_spend_chart_aligns_every_dataset_with_its_labels() -> None:
    weeks = [point(f"2026-11-{d:02d}T00:00:00+00:00", f"{d}.5", {"a": f"{d}", "b": "0.5"})
             for d in (2, 9, 16)]  # fmt: skip
    series = charts.split_series(weeks)
    spec = charts.spend_chart(weeks, series, "week", [ANOMALY])
    labels = spec["data"]["labels"]
    assert labels == ["2026-11-02", "2026-11-09", "2026-11-16"]
    assert spec["money"] is True and spec["options"]["scales"]["y"]["stacked"] is True
    bars, marks = spec["data"]["datasets"][:2], spec["data"]["datasets"][2]
    assert [d["label"] for d in bars] == ["a", "b"]
    assert bars[0]["data"] == [2.0, 9.0, 16.0] and bars[1]["data"] == [0.5, 0.5, 0.5]
    # The anomaly of Nov 11 sits on the week of Nov 9, at that week's total, with its cause.
    assert marks["label"] == "Anomalies" and marks["stack"] != bars[0]["stack"]
    assert marks["data"] == [None, 9.5, None]
    assert marks["notes"][0] is None and marks["notes"][2] is None
    assert "root cause: model gpt-4o (96% of the change)" in marks["notes"][1]
    assert "$25.00 against $0.85 expected" in marks["notes"][1]
    assert all(len(d["data"]) == len(labels) for d in spec["data"]["datasets"])
    table = charts.spend_table(weeks, series, "week")
    assert table["header"] == ["Period", "a", "b", "Total"]
    assert table["rows"][1] == ["2026-11-09", "$9.00", "$0.50", "$9.50"]


def test_without_anomalies_there_is_no_marks_dataset() -> None:
    days = [point("2026-11-01T00:00:00+00:00", "1")]
    spec = charts.spend_chart(days, charts.split_series(days), "day", [])
    assert [d["label"] for d in spec["data"]["datasets"]] == ["Spend"]


def test_cost_per_request_leaves_gaps_where_there_were_no_requests() -> None:
    days = [point("2026-11-01T00:00:00+00:00", "2", costPerRequest="0.5"),
            point("2026-11-02T00:00:00+00:00", "0", costPerRequest=None)]  # fmt: skip
    spec = charts.cost_per_request_chart(days, "day")
    assert spec["data"]["datasets"][0]["data"] == [0.5, None]
    assert charts.cost_per_request_table(days, "day")["rows"][1][3] == "—"


def forecast_answer(as_of: str, days: list[str]) -> dict[str, Any]:
    return {
        "asOf": as_of,
        "points": [
            {"date": d, "value": "2", "lower80": "1", "upper80": "3", "lower95": "0.5",
             "upper95": "4"}
            for d in days
        ],
    }  # fmt: skip


BUDGET = {"budgetId": "b", "limit": "40", "used": "10", "periodEnd": "2026-11-06T00:00:00+00:00",
          "projectedTotal": "17"}  # fmt: skip


def test_the_cumulative_forecast_ends_at_the_budgets_projection() -> None:
    # Today is Nov 3, 12:00: half of today and the three days after it are still to come.
    answer = forecast_answer("2026-11-03T12:00:00+00:00", ["2026-11-03", "2026-11-04",
                                                           "2026-11-05", "2026-11-06"])  # fmt: skip
    history = [point("2026-11-01T00:00:00+00:00", "4"), point("2026-11-02T00:00:00+00:00", "5"),
               point("2026-11-03T00:00:00+00:00", "1")]  # fmt: skip
    figures = charts.forecast_figures(answer, history, BUDGET, "2026-11-01T00:00:00+00:00")
    assert figures.cumulative and figures.limit == Decimal(40)
    assert figures.labels == ("2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04",
                              "2026-11-05")  # fmt: skip
    assert figures.actual == (Decimal(4), Decimal(9), Decimal(10), None, None)
    # used (10) + half of today's 2 + 2 + 2 = 15; the bounds add up the same way.
    assert figures.bounds["value"] == (None, None, Decimal(11), Decimal(13), Decimal(15))
    assert figures.bounds["upper95"][-1] == Decimal(10) + 2 + 4 + 4
    assert figures.bounds["lower80"][-1] == Decimal(10) + Decimal("0.5") + 1 + 1


def test_the_forecast_chart_fills_each_band_and_draws_the_budget() -> None:
    answer = forecast_answer("2026-11-03T00:00:00+00:00", ["2026-11-03", "2026-11-04"])
    figures = charts.forecast_figures(answer, [], BUDGET, "2026-11-01T00:00:00+00:00")
    spec = charts.forecast_chart(figures)
    datasets = spec["data"]["datasets"]
    by_label = {d["label"]: i for i, d in enumerate(datasets)}
    for band in ("95%", "80%"):
        upper = datasets[by_label[f"{band} interval"]]
        lower_index = by_label[f"{band} interval, low"]
        assert upper["fill"] == "-1" and lower_index == by_label[f"{band} interval"] - 1
        assert datasets[lower_index]["fill"] is False and datasets[lower_index]["hideInLegend"]
    assert datasets[by_label["95% interval"]]["data"][2:4] == [14.0, 18.0]
    assert datasets[by_label["Budget limit"]]["data"] == [40.0] * 5
    assert datasets[by_label["Actual"]]["data"] == [0.0, 0.0, 0.0, None, None]
    assert all(len(d["data"]) == len(spec["data"]["labels"]) for d in datasets)
    table = charts.forecast_table(figures)
    assert table["header"][-1] == "Budget limit"
    assert table["rows"][3] == ["2026-11-04", "—", "$14.00", "$12.00", "$16.00", "$11.00",
                                "$18.00", "$40.00"]  # fmt: skip


def test_without_a_budget_the_forecast_is_daily_after_the_history() -> None:
    answer = forecast_answer("2026-11-03T08:00:00+00:00", ["2026-11-03", "2026-11-04"])
    history = [point("2026-11-02T00:00:00+00:00", "4"), point("2026-11-03T00:00:00+00:00", "1")]
    figures = charts.forecast_figures(answer, history)
    assert not figures.cumulative and figures.limit is None
    assert figures.labels == ("2026-11-02", "2026-11-03", "2026-11-04")
    assert figures.actual == (Decimal(4), None, None)  # today is not over
    assert figures.bounds["value"] == (None, Decimal(2), Decimal(2))
    labels = [d["label"] for d in charts.forecast_chart(figures)["data"]["datasets"]]
    assert "Budget limit" not in labels and "Forecast" in labels
