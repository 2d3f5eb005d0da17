"""Chart.js configurations built from the API's answers (pure: the API's JSON in, a chart's
JSON out).

A ``*_chart`` function returns a Chart.js configuration (``type``, ``data``, ``options``) with
``money: true`` when its y axis is USD (``static/dashboard.js`` formats it and draws it); a
``*_table`` function returns the same figures for the ``ui.chart`` macro's table
(``header``, ``rows``), money formatted from the API's decimal strings. Charts carry floats,
for display only; sums (a merged "other" series, a cumulative forecast) are added up as
``Decimal`` first. The x axis is a category axis of ISO dates or hours (there is no date
adapter): labels are strings, and every dataset is aligned with them, ``None`` for a gap.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from thrifty.ui.render import usd

MAX_SERIES = 8  # series of a split chart; past it the smallest are merged into OTHER
OTHER = "other"
UNATTRIBUTED = "(none)"
#: Okabe–Ito colours (told apart with colour blindness), then grey for "other".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
OTHER_COLOUR = "#9CA3AF"
ANOMALY_COLOUR = "#D55E00"

Json = dict[str, Any]


def amount(value: Any) -> float | None:
    """A decimal string (or Decimal) as a float for a chart; ``None`` stays a gap."""
    return None if value is None else float(Decimal(str(value)))


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def label_of(start: str, granularity: str) -> str:
    """A period's category label from its ISO start: ``2026-11-02T13:00`` for an hour,
    ``2026-11`` for a month, else the date."""
    if granularity == "hour":
        return start[:16]
    if granularity == "month":
        return start[:7]
    return start[:10]


def labels_of(points: Sequence[Mapping[str, Any]], granularity: str) -> list[str]:
    return [label_of(p["start"], granularity) for p in points]


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked series: its name and its cost in each trend point."""

    name: str
    costs: tuple[Decimal, ...]


def split_series(points: Sequence[Mapping[str, Any]], limit: int = MAX_SERIES) -> list[Series]:
    """The trend's split (each point's ``groups``) as series, costliest first; with more than
    ``limit``, the costliest ``limit - 1`` and one OTHER series summing the rest. Points
    without ``groups`` (no split asked) make one series of their totals."""
    if not any("groups" in p for p in points):
        return [Series("Spend", tuple(Decimal(p["cost"]) for p in points))]
    costs: dict[str, list[Decimal]] = {}
    for i, point in enumerate(points):
        for group in point.get("groups", ()):
            name = str(group["value"]) if group["value"] is not None else UNATTRIBUTED
            costs.setdefault(name, [Decimal(0)] * len(points))[i] += Decimal(group["cost"])
    ranked = sorted(costs, key=lambda name: (-sum(costs[name]), name))
    if len(ranked) <= limit:
        return [Series(name, tuple(costs[name])) for name in ranked]
    kept, rest = ranked[: limit - 1], ranked[limit - 1 :]
    merged = tuple(sum((costs[name][i] for name in rest), Decimal(0)) for i in range(len(points)))
    return [*(Series(name, tuple(costs[name])) for name in kept), Series(OTHER, merged)]


def colour(index: int, name: str = "") -> str:
    return OTHER_COLOUR if name == OTHER else PALETTE[index % len(PALETTE)]


def line(label: str, data: Sequence[float | None], colour: str, **style: Any) -> Json:
    """A line dataset (unfilled unless ``style`` says otherwise)."""
    return {"label": label, "data": list(data), "borderColor": colour,
            "backgroundColor": colour, "fill": False, **style}  # fmt: skip


def anomaly_note(anomaly: Mapping[str, Any]) -> str:
    """One anomaly in words: what moved and by how much, then (a line of its own) its root
    cause."""
    money = anomaly["metric"] == "cost"
    shown = usd if money else str
    what = f"{anomaly['metric']} {anomaly['direction']} ({anomaly['model'] or 'all models'})"
    figures = f"{shown(anomaly['value'])}"
    if anomaly.get("expected") is not None:
        figures += f" against {shown(anomaly['expected'])} expected"
    return f"{what}: {figures}\n{root_cause_text(anomaly)}"


def root_cause_text(anomaly: Mapping[str, Any]) -> str:
    cause = anomaly.get("rootCause")
    if not cause:
        return "no single cause stands out"
    return f"root cause: {cause_text(cause, anomaly.get('metric'))}"


def cause_text(cause: Mapping[str, Any], metric: Any, *, figures: bool = False) -> str:
    """An anomaly's root cause (``rootCause``) in words: ``user alice (95% of the change)``;
    with ``figures``, ``user alice: $4.20 against $0.10 expected (95% of the change)``."""
    value = cause.get("value")
    text = f"{cause.get('dimension')} {value if value is not None else UNATTRIBUTED}"
    if figures:
        money = "$" if metric == "cost" else ""
        text += f": {money}{cause.get('actual')} against {money}{cause.get('expected')} expected"
    try:
        share = (Decimal(str(cause.get("shareOfChange"))) * 100).quantize(Decimal(1))
    except InvalidOperation:  # an alert stored without it
        return text
    return f"{text} ({share}% of the change)"


def anomaly_marks(
    points: Sequence[Mapping[str, Any]], anomalies: Sequence[Mapping[str, Any]]
) -> tuple[list[float | None], list[str | None]]:
    """Per trend point, a mark at its total spend where anomalies fall in its period (the
    hour or day of each anomaly placed in the week or month holding it), and their notes."""
    starts = [parse_time(p["start"]) for p in points]
    values: list[float | None] = [None] * len(points)
    notes: list[str | None] = [None] * len(points)
    for anomaly in anomalies:
        i = bisect_right(starts, parse_time(anomaly["timestamp"])) - 1
        if i < 0:
            continue
        values[i] = amount(points[i]["cost"])
        note = anomaly_note(anomaly)
        notes[i] = note if notes[i] is None else f"{notes[i]}\n{note}"
    return values, notes


def spend_chart(
    points: Sequence[Mapping[str, Any]],
    series: Sequence[Series],
    granularity: str,
    anomalies: Sequence[Mapping[str, Any]] = (),
) -> Json:
    """Stacked bars of spend per period, one dataset per series, and the anomalies as
    points on top of the stacks (a dataset of their own stack, notes in the tooltip)."""
    datasets: list[Json] = [
        {"type": "bar", "label": s.name, "stack": "spend", "data": [amount(c) for c in s.costs],
         "backgroundColor": colour(i, s.name)}
        for i, s in enumerate(series)
    ]  # fmt: skip
    values, notes = anomaly_marks(points, anomalies)
    if any(v is not None for v in values):
        datasets.append(
            {"type": "line", "label": "Anomalies", "stack": "anomalies", "data": values,
             "notes": notes, "showLine": False, "pointStyle": "triangle", "pointRadius": 8,
             "pointHoverRadius": 10, "backgroundColor": ANOMALY_COLOUR, "borderColor": "#000"}
        )  # fmt: skip
    return {
        "type": "bar",
        "money": True,
        "data": {"labels": labels_of(points, granularity), "datasets": datasets},
        "options": {
            "scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True}}
        },
    }


def spend_table(
    points: Sequence[Mapping[str, Any]], series: Sequence[Series], granularity: str
) -> Json:
    rows = [
        [label, *(usd(s.costs[i]) for s in series), usd(point["cost"])]
        for i, (label, point) in enumerate(zip(labels_of(points, granularity), points, strict=True))
    ]
    return {"header": ["Period", *(s.name for s in series), "Total"], "rows": rows}


def cost_per_request_chart(points: Sequence[Mapping[str, Any]], granularity: str) -> Json:
    data = [amount(p["costPerRequest"]) for p in points]
    return {
        "type": "line",
        "money": True,
        "data": {
            "labels": labels_of(points, granularity),
            "datasets": [line("Cost per request", data, PALETTE[0], spanGaps=False)],
        },
        "options": {"scales": {"y": {"beginAtZero": True}}},
    }


def cost_per_request_table(points: Sequence[Mapping[str, Any]], granularity: str) -> Json:
    rows = [
        [label, str(p["requests"]), usd(p["cost"]), usd(p["costPerRequest"])]
        for label, p in zip(labels_of(points, granularity), points, strict=True)
    ]
    return {"header": ["Period", "Requests", "Cost", "Cost per request"], "rows": rows}


BOUNDS = ("value", "lower80", "upper80", "lower95", "upper95")
_DAY_SECONDS = Decimal(86_400)


@dataclass(frozen=True, slots=True)
class ForecastFigures:
    """A forecast's chart and table, by day: what was spent, the forecast with its bounds
    (``BOUNDS``), and the budget's limit. Cumulative over the budget's period when there is
    a budget (spend to date, then ``used`` plus the forecast), else per day."""

    labels: tuple[str, ...]
    actual: tuple[Decimal | None, ...]
    bounds: Mapping[str, tuple[Decimal | None, ...]]
    limit: Decimal | None
    cumulative: bool


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=k) for k in range((last - first).days + 1)]


def forecast_figures(
    forecast: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    budget: Mapping[str, Any] | None = None,
    period_start: str | None = None,
) -> ForecastFigures:
    """``forecast``: the answer of ``/cost/forecast``; ``history``: the scope's daily trend
    points; ``budget``: one of the forecast's ``budgets``, whose period starts at
    ``period_start``. Per day, the spend shown stops before today (today is not over). The
    cumulative forecast adds up as the API's projection does — today counts for the part of
    it still to come — so it ends at the budget's ``projectedTotal``."""
    as_of = parse_time(forecast["asOf"])
    today = as_of.date()
    spent = {p["start"][:10]: Decimal(p["cost"]) for p in history}
    by_date = {p["date"]: p for p in forecast["points"]}
    if budget is None or period_start is None:  # by day; today's spend is not complete
        spent = {day: cost for day, cost in spent.items() if day < today.isoformat()}
        labels = sorted(set(spent) | set(by_date))
        bounds = {b: tuple(_bound(by_date.get(d), b) for d in labels) for b in BOUNDS}
        return ForecastFigures(tuple(labels), tuple(spent.get(d) for d in labels), bounds,
                               None, cumulative=False)  # fmt: skip
    end = parse_time(budget["periodEnd"]) - timedelta(microseconds=1)
    days = _days(parse_time(period_start).date(), end.date())
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), as_of.tzinfo)
    rest_of_today = Decimal(int((midnight - as_of).total_seconds())) / _DAY_SECONDS
    actual: list[Decimal | None] = []
    running = Decimal(0)
    sums = dict.fromkeys(BOUNDS, Decimal(budget["used"]))  # posted and held so far
    columns: dict[str, list[Decimal | None]] = {b: [] for b in BOUNDS}
    for day in days:
        running += spent.get(day.isoformat(), Decimal(0))
        actual.append(running if day <= today else None)
        point = by_date.get(day.isoformat()) if day >= today else None
        share = rest_of_today if day == today else Decimal(1)
        for bound in BOUNDS:
            if point is not None:
                sums[bound] += Decimal(point[bound]) * share
            columns[bound].append(None if point is None else sums[bound])
    return ForecastFigures(
        tuple(d.isoformat() for d in days), tuple(actual),
        {b: tuple(c) for b, c in columns.items()}, Decimal(budget["limit"]), cumulative=True,
    )  # fmt: skip


def _bound(point: Mapping[str, Any] | None, bound: str) -> Decimal | None:
    return None if point is None else Decimal(point[bound])


def _floats(values: Sequence[Decimal | None]) -> list[float | None]:
    return [amount(v) for v in values]


#: The bands, each upper bound filled down to its lower bound (the dataset before it).
BANDS = (
    ("lower95", "95% interval, low", False),
    ("upper95", "95% interval", "-1"),
    ("lower80", "80% interval, low", False),
    ("upper80", "80% interval", "-1"),
)
BAND_COLOURS = {"95": "rgba(0, 114, 178, 0.14)", "80": "rgba(0, 114, 178, 0.30)"}


def forecast_chart(figures: ForecastFigures) -> Json:
    """The 95% and 80% bands as filled areas (``fill: "-1"``: down to the dataset before,
    the band's lower bound, which stays out of the legend), the forecast, the actual spend
    and, in the cumulative view, the budget's limit."""
    datasets: list[Json] = [
        {"label": label, "data": _floats(figures.bounds[bound]), "fill": fill,
         "borderWidth": 0, "pointRadius": 0, "backgroundColor": BAND_COLOURS[bound[-2:]],
         "hideInLegend": fill is False}
        for bound, label, fill in BANDS
    ]  # fmt: skip
    datasets += [
        line("Forecast", _floats(figures.bounds["value"]), PALETTE[0], borderDash=[6, 4],
             pointRadius=0),
        line("Actual", _floats(figures.actual), "#000000", pointRadius=2),
    ]  # fmt: skip
    if figures.limit is not None:
        limit = [amount(figures.limit)] * len(figures.labels)
        datasets.append(line("Budget limit", limit, ANOMALY_COLOUR, borderDash=[2, 2],
                             pointRadius=0))  # fmt: skip
    return {
        "type": "line",
        "money": True,
        "data": {"labels": list(figures.labels), "datasets": datasets},
        "options": {
            "scales": {"y": {"beginAtZero": True}},
            "interaction": {"mode": "index", "intersect": False},
        },
    }


def forecast_table(figures: ForecastFigures) -> Json:
    spent = "Spent to date" if figures.cumulative else "Spent"
    header = ["Date", spent, "Forecast", "80% low", "80% high", "95% low", "95% high"]
    if figures.limit is not None:
        header.append("Budget limit")
    limit = [] if figures.limit is None else [usd(figures.limit)]
    rows = [
        [label, usd(figures.actual[i]), *(usd(figures.bounds[b][i]) for b in BOUNDS), *limit]
        for i, label in enumerate(figures.labels)
    ]
    return {"header": header, "rows": rows}
