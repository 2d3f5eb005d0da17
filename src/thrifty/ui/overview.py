"""``/``: the overview — this period's spend against each org and team budget, active alerts,
top models and spenders, and what model selection saved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from thrifty.api.state import app_state
from thrifty.ui.api import DashboardApi
from thrifty.ui.pages import ViewerDep, api_for, page_router
from thrifty.ui.render import render

router = page_router()
HEADLINE_SCOPES = ("organization", "team")
QUIET = ("turnover",)  # a new period began: history, not something to act on


async def budget_statuses(api: DashboardApi) -> list[dict[str, Any]]:
    """Every visible budget with its status (``status`` inside each), org budgets first."""
    listed = (await api.get("/budgets", include="status"))["budgets"]
    order = {"organization": 0, "team": 1, "user": 2, "key": 3, "tag": 4}
    return sorted(
        listed, key=lambda b: (order.get(b["scope"]["type"], 9), b["scope"]["id"], b["id"])
    )


def period_start(rows: list[dict[str, Any]], now: datetime) -> str:
    """The window of the figures below the budgets: the first headline budget's period,
    else this calendar month (UTC)."""
    for row in rows:
        period = row["status"].get("period")
        if period and row["scope"]["type"] in HEADLINE_SCOPES:
            return str(period["start"])
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).isoformat()


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, viewer: ViewerDep) -> HTMLResponse:
    async with api_for(request, viewer) as api:
        rows = await budget_statuses(api)
        start = period_start(rows, app_state(request).now())
        summary, models, alerts, savings = await api.gather(
            api.get("/cost-analysis/summary", start=start, top=5),
            api.get("/cost-analysis/by-model", start=start),
            api.get("/alerts", limit=10),
            api.optional(api.get("/cost/savings", start=start)),
        )
    headline = [r for r in rows if r["scope"]["type"] in HEADLINE_SCOPES] or rows
    active = [
        a for r in rows for a in r["status"].get("activeAlerts", []) if a["kind"] not in QUIET
    ]
    return render(
        request, viewer, "overview.html", title="Overview", budgets=headline,
        other_budgets=len(rows) - len(headline), start=start, summary=summary,
        models=models["groups"][:5], alerts=alerts["alerts"], active=active, savings=savings,
    )  # fmt: skip
