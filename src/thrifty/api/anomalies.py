"""``GET /api/v1/cost/anomalies``: unusual spend and request volume in a scope, per model too,
at hourly or daily grain, each with its expected value, cost delta, severity and root cause
(``analytics.spend_anomalies``). The range and filters are those of the cost-analysis
endpoints; the detector also reads ``HISTORY`` before the range, to judge its first points."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Query
from sqlalchemy import Connection

from thrifty.analytics import costs
from thrifty.analytics.costs import Granularity
from thrifty.analytics.spend_anomalies import Cause, SpendAnomaly, find_anomalies
from thrifty.api.auth import CallerDep
from thrifty.api.cost_analysis import WindowDep, caught_up, read_views
from thrifty.api.responses import FastJSONResponse
from thrifty.budgets.money import format_usd
from thrifty.errors import InvalidInput
from thrifty.storage import rollups

router = APIRouter(prefix="/api/v1", tags=["anomalies"])
HISTORY = timedelta(days=28)
TOP_MODELS = 10
STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


CAUSES = ("total", "model", "key_id", "user_id", "team_id", "tag")


def read_usage(
    conn: Connection, scope: rollups.Scope, grain: str, start: datetime, end: datetime
) -> dict[str, list[dict[str, Any]]]:
    """The scope's sums per bucket: its totals, and per value of each cause dimension (from
    the cube when it holds the scope, else from the wide sums; tags apart)."""
    cube = rollups.cube_scope(scope)
    if cube is not None:
        keys = [k for k in CAUSES if k == "total" or rollups.cube_has(cube[0], k)]
        return read_views(conn, scope, grain, start, end, keys)
    tagged = scope.tag is not None
    group = ("model", "user_id", "team_id") if tagged else ("model", "key_id", "user_id", "team_id")
    rows = rollups.read(conn, grain, start, end, scope, group)
    views = {k: rows for k in CAUSES if k != "tag"}
    if scope.key_id is None and scope.provider is None and scope.task_type is None:
        views["tag"] = rollups.read(conn, grain, start, end, scope, ("tag", "model"))
    return views


def top_models(views: dict[str, list[dict[str, Any]]], start: datetime, limit: int) -> list[str]:
    spend: dict[str, int] = {}
    for row in views.get("model", ()):
        if row["bucket"] >= start and row["model"]:
            spend[row["model"]] = spend.get(row["model"], 0) + int(row["cost_nano"])
    return sorted(spend, key=lambda m: (-spend[m], m))[:limit]


def _figure(metric: str, value: Any) -> str | int | None:
    if value is None:
        return None
    return format_usd(value) if metric == "cost" else int(value)


def _cause(metric: str, cause: Cause | None) -> dict[str, Any] | None:
    if cause is None:
        return None
    return {
        "dimension": cause.dimension.removesuffix("_id"),
        "value": cause.value,
        "actual": _figure(metric, cause.actual),
        "expected": _figure(metric, cause.expected),
        "shareOfChange": format_usd(cause.share),
    }


def anomaly_json(found: SpendAnomaly) -> dict[str, Any]:
    a = found.anomaly
    return {
        "timestamp": found.bucket.isoformat(),
        "metric": found.metric,
        "model": found.model,
        "value": _figure(found.metric, found.value),
        "expected": _figure(found.metric, found.expected),
        "delta": _figure(found.metric, found.delta),
        "costDelta": None if found.cost_delta is None else format_usd(found.cost_delta),
        "score": round(a.score, 3),
        "severity": a.severity.value,
        "direction": a.direction.value,
        "check": a.check.value,
        "rootCause": _cause(found.metric, found.root_cause),
        "causes": [_cause(found.metric, c) for c in found.causes],
    }


def scan(
    views: dict[str, list[dict[str, Any]]],
    *,
    grain: str,
    start: datetime,
    end: datetime,
    metrics: Sequence[str],
    by_model: bool,
    threshold: float,
) -> list[SpendAnomaly]:
    granularity = Granularity(grain)
    first = costs.period_start(start, granularity)
    return find_anomalies(
        views, history_start=first - HISTORY, start=first, end=end, step=STEPS[grain],
        metrics=metrics, models=top_models(views, first, TOP_MODELS) if by_model else (),
        threshold=threshold,
    )  # fmt: skip


@router.get("/cost/anomalies", summary="Unusual spend or request volume, with the root cause")
async def cost_anomalies(
    caller: CallerDep,
    window: WindowDep,
    granularity: Literal["hour", "day"] = "hour",
    metric: Literal["cost", "requests", "all"] = "all",
    by_model: Annotated[bool, Query(alias="byModel")] = True,
    threshold: Annotated[float, Query(gt=0, le=100)] = 1.0,
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
) -> FastJSONResponse:
    if granularity == "hour" and window.end - window.start > timedelta(days=93):
        raise InvalidInput("an hourly scan covers at most 93 days", field="granularity")
    first = costs.period_start(window.start, Granularity(granularity))
    # Complete buckets only: the current hour or day is not over, and would look like a drop.
    end = min(window.end, costs.period_start(caller.state.now(), Granularity(granularity)))
    await caught_up(caller.state.database)
    views = await caller.state.database.aread(
        lambda conn: read_usage(conn, window.scope, granularity, first - HISTORY, end)
    )
    metrics = ("cost", "requests") if metric == "all" else (metric,)
    found = await anyio.to_thread.run_sync(
        lambda: scan(
            views,
            grain=granularity,
            start=window.start,
            end=end,
            metrics=metrics,
            by_model=by_model,
            threshold=threshold,
        )
    )
    return FastJSONResponse(
        {
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "granularity": granularity,
            "anomalies": [anomaly_json(a) for a in found[:limit]],
        }
    )
