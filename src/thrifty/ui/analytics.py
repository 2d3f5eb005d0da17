"""``/analytics``: a range's spend over time split by a dimension, its cost per request, totals
and split, the anomalies in it marked on the spend, and a scope's forecast against its budget.

Every figure is an API answer for the signed-in key: ``/cost-analysis/trends``, ``/summary``
and ``/by/{dimension}``, ``/cost/anomalies`` and ``/cost/forecast``. The filters are a GET form;
a filter the API refuses is shown next to its field, with the API's message.

The scope (one of the visible budgets' scopes, by default the first organisation's) narrows the
whole page, so the bars, the anomalies marked on them and the forecast describe the same spend.
Only scopes whose whole spend the key's cost analysis sees are offered: a member reads its own
user's spend, so its organisation's forecast would be drawn against a fraction of its history.
The forecast is drawn cumulatively over the budget's period (see ``charts.forecast_figures``):
a budget caps the period's total, so spend to date, the projection and the limit are one picture
and the run-out day is where the forecast crosses the limit line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse

from thrifty.api.cost_analysis import DIMENSIONS
from thrifty.api.state import app_state
from thrifty.budgets.principal import Role
from thrifty.ui import charts
from thrifty.ui.api import ApiError, DashboardApi
from thrifty.ui.forms import field_errors
from thrifty.ui.pages import ViewerDep, api_for, page_router
from thrifty.ui.render import render
from thrifty.ui.session import Viewer

router = page_router()
GRANULARITIES = ("hour", "day", "week", "month")
RANGE_DAYS = 30
DEFAULT_GROUP = "model"
DEFAULT_HORIZON = "30"
ALL = "all"  # the scope value for everything the key sees (no forecast)
FIELDS = ("start", "end", "granularity", "groupBy", "scope", "horizon")
#: An API parameter → the form field it came from (the API's "query." prefix dropped).
FIELD_OF_PARAM = {"dimension": "groupBy", "scopeType": "scope", "scopeId": "scope",
                  "orgId": "scope", "teamId": "scope", "userId": "scope", "keyId": "scope",
                  "tag": "scope"}  # fmt: skip
SCOPE_FILTERS = {"organization": "orgId", "team": "teamId", "user": "userId", "key": "keyId",
                 "tag": "tag"}  # fmt: skip
SCOPE_ORDER = ("organization", "team", "user", "key", "tag")
SEVERITY_BADGES = {"low": "neutral", "medium": "warn", "high": "crit", "critical": "over"}
#: The scope types whose whole spend a role's cost analysis sees (the admin key: all).
WHOLE_SPEND = {Role.ORG_ADMIN: {"organization", "team", "user", "key"},
               Role.TEAM_ADMIN: {"team", "user", "key"}, Role.MEMBER: {"user", "key"}}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ScopeOption:
    value: str  # "type:id", or ALL
    label: str
    budget_id: str | None  # the budget whose period the forecast is drawn over


def scope_options(viewer: Viewer, budgets: Sequence[Mapping[str, Any]]) -> list[ScopeOption]:
    """The visible budgets' scopes whose whole spend the key sees (a key's own user too),
    organisations first, then everything the key sees."""
    principal = viewer.principal
    if principal.is_admin:
        allowed = set(SCOPE_ORDER)
    else:
        allowed = WHOLE_SPEND.get(principal.role, set()) if principal.role else set()
    found: dict[str, ScopeOption] = {}
    for budget in budgets:
        kind, scope_id = budget["scope"]["type"], budget["scope"]["id"]
        if kind in allowed:
            value = f"{kind}:{scope_id}"
            found.setdefault(value, ScopeOption(value, f"{kind} {scope_id}", budget["id"]))
    if not principal.is_admin and principal.user_id:
        own = f"user:{principal.user_id}"
        found.setdefault(own, ScopeOption(own, f"user {principal.user_id}", None))
    ordered = sorted(found.values(), key=lambda o: SCOPE_ORDER.index(o.value.split(":")[0]))
    return [*ordered, ScopeOption(ALL, "everything this key sees (no forecast)", None)]


@dataclass(frozen=True, slots=True)
class Filters:
    """The form's values as typed (the API judges them)."""

    start: str
    end: str
    granularity: str
    group_by: str
    scope: str
    horizon: str

    @classmethod
    def read(cls, query: Mapping[str, str], today: date, options: Sequence[ScopeOption]) -> Filters:
        def value(name: str, default: str) -> str:
            return query.get(name, "").strip() or default

        first_org = next((o for o in options if o.value.startswith("organization:")), options[0])
        start, end = date_range(query, today)
        return cls(
            start=start,
            end=end,
            granularity=value("granularity", "day"),
            group_by=value("groupBy", DEFAULT_GROUP),
            scope=value("scope", first_org.value),
            horizon=value("horizon", DEFAULT_HORIZON),
        )

    def window(self) -> dict[str, str]:
        """The API's range (the end day included) and the scope's filter."""
        params = api_range(self.start, self.end)
        kind, _, scope_id = self.scope.partition(":")
        name = SCOPE_FILTERS.get(kind)
        return params | ({name: scope_id} if name and scope_id else {})


def date_range(query: Mapping[str, str], today: date) -> tuple[str, str]:
    """A range form's ``start`` and ``end`` dates as typed, by default the last
    ``RANGE_DAYS`` days up to ``today`` (shared by the analytics and recommendations pages)."""
    start = query.get("start", "").strip() or (today - timedelta(days=RANGE_DAYS - 1)).isoformat()
    return start, query.get("end", "").strip() or today.isoformat()


def api_range(start: str, end: str) -> dict[str, str]:
    """The API's ``start`` and ``end`` of a range of dates, its end day included."""
    return {"start": day_start(start), "end": day_start(end, later=1)}


def day_start(text: str, later: int = 0) -> str:
    """Midnight UTC of the date ``text`` (plus ``later`` days); other text goes to the API
    as typed, so its message says what is wrong with it."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text
    return datetime.combine(day + timedelta(days=later), time(), UTC).isoformat()


def errors_of(error: ApiError, fields: Sequence[str] = FIELDS) -> dict[str, str]:
    """The API's error next to the form field its parameter came from."""
    param = (error.param or "").removeprefix("query.").removeprefix("path.")
    named = ApiError(error.status, error.message, FIELD_OF_PARAM.get(param, param), error.code)
    return field_errors(named, fields)


async def _none() -> None:
    return None


def group_name(group: Mapping[str, Any]) -> str:
    """A ``/cost-analysis/by`` group's value (its first member: ``model``, ``teamId``…)."""
    value = next(iter(group.values()))
    return str(value) if value is not None else charts.UNATTRIBUTED


def _budget(forecast: Mapping[str, Any], budget_id: str | None) -> dict[str, Any] | None:
    return next((b for b in forecast["budgets"] if b["budgetId"] == budget_id), None)


async def forecast_view(
    api: DashboardApi, filters: Filters, forecast: dict[str, Any], status: dict[str, Any] | None
) -> dict[str, Any]:
    """The forecast chart: over the budget's period when the scope's budget has one, else
    per day over the range."""
    period = (status or {}).get("period")
    budget = _budget(forecast, status["budgetId"]) if status and period else None
    params: dict[str, str | None] = {**filters.window(), "granularity": "day"}
    period_start = period["start"] if budget and period else None
    if period_start:  # the period so far
        params |= {"start": period_start, "end": None}
    history = await api.get("/cost-analysis/trends", **params)
    figures = charts.forecast_figures(forecast, history["points"], budget, period_start)
    return {
        "answer": forecast,
        "budget": budget,
        "cumulative": figures.cumulative,
        "spec": charts.forecast_chart(figures),
        "table": charts.forecast_table(figures),
    }


async def analytics_view(
    api: DashboardApi, filters: Filters, option: ScopeOption | None
) -> dict[str, Any]:
    window = filters.window()
    kind, _, scope_id = filters.scope.partition(":")
    scoped = filters.scope != ALL
    trend, summary, split, anomalies, forecast, status = await api.gather(
        api.get("/cost-analysis/trends", **window, granularity=filters.granularity,
                groupBy=filters.group_by),
        api.get("/cost-analysis/summary", **window),
        api.get(f"/cost-analysis/by/{quote(filters.group_by, safe='')}", **window),
        api.get("/cost/anomalies", **window,
                granularity="hour" if filters.granularity == "hour" else "day"),
        api.get("/cost/forecast", scopeType=kind, scopeId=scope_id, horizon=filters.horizon)
        if scoped else _none(),
        api.get(f"/budgets/{quote(option.budget_id, safe='')}/status")
        if option and option.budget_id else _none(),
    )  # fmt: skip
    points = trend["points"]
    series = charts.split_series(points)
    found = anomalies["anomalies"]
    return {
        "summary": summary,
        "split": [g | {"name": group_name(g)} for g in split["groups"]],
        "spend_spec": charts.spend_chart(points, series, filters.granularity, found),
        "spend_table": charts.spend_table(points, series, filters.granularity),
        "cpr_spec": charts.cost_per_request_chart(points, filters.granularity),
        "cpr_table": charts.cost_per_request_table(points, filters.granularity),
        "anomalies": [
            a | {"cause": charts.root_cause_text(a), "badge": SEVERITY_BADGES.get(a["severity"])}
            for a in found
        ],
        "forecast": await forecast_view(api, filters, forecast, status) if forecast else None,
    }


@router.get("/analytics", response_class=HTMLResponse)
async def analytics(request: Request, viewer: ViewerDep) -> HTMLResponse:
    today = app_state(request).now().astimezone(UTC).date()
    async with api_for(request, viewer) as api:
        options = scope_options(viewer, (await api.get("/budgets"))["budgets"])
        filters = Filters.read(request.query_params, today, options)
        option = next((o for o in options if o.value == filters.scope), None)
        context: dict[str, Any] = {"filters": filters, "options": options, "option": option,
                                   "granularities": GRANULARITIES,
                                   "dimensions": list(DIMENSIONS)}  # fmt: skip
        try:
            view = await analytics_view(api, filters, option)
        except ApiError as error:
            if error.status >= 500:
                raise
            return render(
                request, viewer, "analytics.html", status_code=error.status, title="Analytics",
                view=None, errors=errors_of(error), **context,
            )  # fmt: skip
    return render(
        request, viewer, "analytics.html", title="Analytics", view=view, errors={}, **context
    )
