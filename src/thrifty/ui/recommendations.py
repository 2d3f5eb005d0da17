"""``/recommendations``: ranked ways to spend less in a range's traffic, with their estimated
monthly savings and the total (``GET /cost/recommendations``), and the range's workload
repriced on every registered model (``GET /cost/benchmarks``).

The range is a GET form of two dates (the end day included; default the last 30 days) and how
many recommendations to list; a value the API refuses is shown next to its field.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from thrifty.api.state import app_state
from thrifty.ui.analytics import api_range, date_range, errors_of
from thrifty.ui.api import ApiError
from thrifty.ui.pages import ViewerDep, api_for, page_router
from thrifty.ui.render import render

router = page_router()
DEFAULT_LIMIT = "20"
FIELDS = ("start", "end", "limit")
BENCHMARK_MODELS = 20  # rows of the repriced workload
#: Evidence members worth a label of their own (the rest are shown as they come).
EVIDENCE_LABELS = {"budgetId": "budget", "keyId": "key", "projectedTotal": "projected",
                   "runsOutOn": "runs out on", "forecastMethod": "forecast method"}  # fmt: skip


def evidence_items(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """A recommendation's evidence as (label, text) pairs; nested values as plain text."""
    items = []
    for name, value in evidence.items():
        if value is None or isinstance(value, dict | list):
            continue
        items.append((EVIDENCE_LABELS.get(name, name), str(value)))
    return items


@router.get("/recommendations", response_class=HTMLResponse)
async def recommendations(request: Request, viewer: ViewerDep) -> HTMLResponse:
    today = app_state(request).now().astimezone(UTC).date()
    start, end = date_range(request.query_params, today)
    limit = request.query_params.get("limit", "").strip() or DEFAULT_LIMIT
    filters = {"start": start, "end": end, "limit": limit}
    window = api_range(start, end)
    async with api_for(request, viewer) as api:
        try:
            found, benchmarks = await api.gather(
                api.get("/cost/recommendations", **window, limit=filters["limit"]),
                api.optional(api.get("/cost/benchmarks", **window, limit=BENCHMARK_MODELS)),
            )
        except ApiError as error:
            if error.status >= 500:
                raise
            return render(request, viewer, "recommendations.html", status_code=error.status,
                          title="Recommendations", filters=filters, found=None, benchmarks=None,
                          errors=errors_of(error, FIELDS))  # fmt: skip
    rows = [
        r | {"facts": evidence_items(r.get("evidence") or {})} for r in found["recommendations"]
    ]
    return render(
        request, viewer, "recommendations.html", title="Recommendations", filters=filters,
        found=found, rows=rows, benchmarks=benchmarks, errors={},
    )  # fmt: skip
