"""Cost analysis: ``GET /api/v1/cost-analysis/summary``, ``/by-model``, ``/by-provider``,
``/by/{dimension}`` and ``/trends``.

Every endpoint takes a time range (``start``, ``end``: ISO 8601 with a zone; default the last 30
days), a granularity for trends (``hour``, ``day``, ``week``, ``month``) and filters on any
attribution (``orgId``, ``teamId``, ``userId``, ``keyId``, ``model``, ``provider``,
``taskType``, ``tag``). They read the hour and day sums kept at settlement
(``storage.rollups``), never the usage records. What a key sees: everything for the admin key,
its organisation for an org admin, its team for a team admin, its own user otherwise; a filter
naming something it may not see is a 403 naming the filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import Connection

from thrifty.analytics import costs
from thrifty.analytics.costs import Granularity
from thrifty.api.auth import Caller, CallerDep
from thrifty.api.explainer import visibility
from thrifty.api.responses import FastJSONResponse
from thrifty.budgets.model import ScopeType
from thrifty.errors import InvalidInput
from thrifty.storage import rollups
from thrifty.storage.database import Database
from thrifty.storage.rollups import Scope

router = APIRouter(prefix="/api/v1", tags=["cost analysis"])
DEFAULT_RANGE = timedelta(days=30)
MAX_HOURS = 24 * 93  # an hourly view of more than a quarter is a day view
#: ``/by/{dimension}``: the path's name → the stored attribution.
DIMENSIONS = {
    "org": "org_id",
    "team": "team_id",
    "user": "user_id",
    "key": "key_id",
    "model": "model",
    "provider": "provider",
    "tag": "tag",
    "task-type": "task_type",
}
_NAMES = {
    "org_id": "orgId",
    "team_id": "teamId",
    "user_id": "userId",
    "key_id": "keyId",
    "model": "model",
    "provider": "provider",
    "tag": "tag",
    "task_type": "taskType",
}
Name = Annotated[str | None, Query(min_length=1, max_length=200)]


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    scope: Scope


def _window(
    caller: CallerDep,
    start: datetime | None = None,
    end: datetime | None = None,
    org_id: Annotated[str | None, Query(alias="orgId", min_length=1, max_length=64)] = None,
    team_id: Annotated[str | None, Query(alias="teamId", min_length=1, max_length=64)] = None,
    user_id: Annotated[str | None, Query(alias="userId", min_length=1, max_length=64)] = None,
    key_id: Annotated[str | None, Query(alias="keyId", min_length=1, max_length=64)] = None,
    model: Name = None,
    provider: Name = None,
    task_type: Annotated[str | None, Query(alias="taskType", min_length=1, max_length=32)] = None,
    tag: Name = None,
) -> Window:
    for value, field in ((start, "start"), (end, "end")):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{field} needs a time zone (for example Z)", field=field)
    finish = end or caller.state.now()
    begin = start or finish - DEFAULT_RANGE
    if begin >= finish:
        raise InvalidInput("start must be before end", field="start")
    for scope_type, value, field in (
        (ScopeType.ORGANIZATION, org_id, "orgId"),
        (ScopeType.TEAM, team_id, "teamId"),
        (ScopeType.USER, user_id, "userId"),
        (ScopeType.KEY, key_id, "keyId"),
    ):
        if value is not None:
            caller.check_sees(scope_type, value, field=field)
    seen = visibility(caller)
    scope = Scope(
        org_id=org_id or seen.org_id,
        team_id=team_id or seen.team_id,
        user_id=user_id or seen.user_id,
        key_id=key_id,
        model=model,
        provider=provider,
        task_type=task_type,
        tag=tag,
    )
    return Window(begin, finish, scope)


WindowDep = Annotated[Window, Depends(_window)]


def check_tags(scope: Scope, keys: Sequence[str]) -> None:
    if scope.tag is not None or "tag" in keys:  # tag sums: fewer attributions
        for name in ("key_id", "provider", "task_type"):
            if getattr(scope, name) is not None or name in keys:
                raise InvalidInput(
                    f"spend by tag is not split by {_NAMES[name]}", field=_NAMES[name]
                )


def read_views(
    conn: Connection, scope: Scope, grain: str, start: datetime, end: datetime,
    keys: Sequence[str], *, per_bucket: bool = True,
) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """For each of ``keys`` ("total", or an attribution), the sums per bucket and value of it
    in ``[start, end)``: from the cube when it holds that view of ``scope``, else grouped
    from the wide sums (one query for every key)."""
    cube = rollups.cube_scope(scope)
    if cube is not None and all(k == "total" or rollups.cube_has(cube[0], k) for k in keys):
        views: dict[str, list[dict[str, Any]]] = {k: [] for k in keys}
        for row in rollups.read_cube(conn, grain, start, end, cube, keys, per_bucket=per_bucket):
            key = row.pop("dimension")
            value = row.pop("value")
            if key != "total":
                row[key] = value
            views[key].append(row)
        return views
    rows = rollups.read(conn, grain, start, end, scope, [k for k in keys if k != "total"])
    return {k: rows for k in keys}


async def caught_up(database: Database) -> None:
    """Roll up pending usage records first, so a read sees every settled request."""
    if await database.aread(rollups.has_pending):
        await database.awrite(rollups.catch_up)


async def _views(
    caller: Caller, window: Window, grain: str, keys: Sequence[str], *, per_bucket: bool = True
) -> dict[str, list[dict[str, Any]]]:
    check_tags(window.scope, keys)
    start = costs.period_start(window.start, Granularity(grain))  # whole buckets
    end = window.end
    await caught_up(caller.state.database)
    return await caller.state.database.aread(
        lambda conn: read_views(conn, window.scope, grain, start, end, keys, per_bucket=per_bucket)
    )


async def _rows(
    caller: Caller,
    window: Window,
    grain: str,
    group_by: tuple[str, ...] = (),
    *,
    per_bucket: bool = True,
) -> list[dict[str, Any]]:
    key = group_by[0] if group_by else "total"
    return (await _views(caller, window, grain, [key], per_bucket=per_bucket))[key]


def _range(window: Window) -> dict[str, Any]:
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}


def _grain(window: Window) -> str:
    """Hour sums for ranges within two days (exact to the hour), day sums beyond."""
    return "hour" if window.end - window.start <= timedelta(days=2) else "day"


@router.get("/cost-analysis/summary", summary="Spend, unit costs and top spenders in a range")
async def summary(
    caller: CallerDep, window: WindowDep, top: Annotated[int, Query(ge=1, le=100)] = 5
) -> FastJSONResponse:
    grain = _grain(window)
    tagged = window.scope.tag is not None
    group = ("team_id", "user_id", "model") if tagged else ("team_id", "user_id", "key_id", "model")
    views = await _views(caller, window, grain, ["total", *group], per_bucket=False)
    totals = costs.total(views["total"])
    spenders = {
        _NAMES[key] + "s": costs.group_json(views[key], key, _NAMES[key], limit=top)
        for key in group
    }
    return FastJSONResponse(
        {**_range(window), "grain": grain, **totals.json(), "topSpenders": spenders}
    )


async def _by(caller: Caller, window: Window, dimension: str) -> FastJSONResponse:
    key = DIMENSIONS[dimension]
    rows = await _rows(caller, window, _grain(window), (key,), per_bucket=False)
    return FastJSONResponse(
        {
            **_range(window),
            "groupBy": dimension,
            **costs.total(rows).json(),
            "groups": costs.group_json(rows, key, _NAMES[key]),
        }
    )


@router.get("/cost-analysis/by-model", summary="Spend per model")
async def by_model(caller: CallerDep, window: WindowDep) -> FastJSONResponse:
    return await _by(caller, window, "model")


@router.get("/cost-analysis/by-provider", summary="Spend per provider")
async def by_provider(caller: CallerDep, window: WindowDep) -> FastJSONResponse:
    return await _by(caller, window, "provider")


@router.get(
    "/cost-analysis/by/{dimension}",
    summary="Spend per org, team, user, key, model, provider, tag or task type",
)
async def by_dimension(
    caller: CallerDep, window: WindowDep, dimension: Annotated[str, Path(max_length=20)]
) -> FastJSONResponse:
    if dimension not in DIMENSIONS:
        known = ", ".join(DIMENSIONS)
        raise InvalidInput(f"dimension must be one of {known}", field="dimension")
    return await _by(caller, window, dimension)


@router.get("/cost-analysis/trends", summary="Spend over time, optionally split")
async def trends(
    caller: CallerDep,
    window: WindowDep,
    granularity: Granularity = Granularity.DAY,
    group_by: Annotated[str | None, Query(alias="groupBy", max_length=20)] = None,
) -> FastJSONResponse:
    if group_by is not None and group_by not in DIMENSIONS:
        raise InvalidInput(f"groupBy must be one of {', '.join(DIMENSIONS)}", field="groupBy")
    if granularity is Granularity.HOUR and window.end - window.start > timedelta(hours=MAX_HOURS):
        raise InvalidInput(
            f"an hourly trend covers at most {MAX_HOURS // 24} days", field="granularity"
        )
    key = DIMENSIONS[group_by] if group_by else None
    start = costs.period_start(window.start, granularity)
    widened = replace(window, start=start)
    rows = await _rows(caller, widened, granularity.grain, (key,) if key else ())
    points = costs.trend(rows, granularity, start, window.end, key)
    return FastJSONResponse(
        {
            **_range(widened),
            "granularity": granularity.value,
            "groupBy": group_by,
            **costs.total(rows).json(),
            "points": points,
        }
    )
