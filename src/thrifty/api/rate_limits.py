"""Rate-limit endpoints: ``/api/v1/rate-limits[/{limit_id}]`` (admin key), audited.

A limit is ``{scope: {type, id}, requests_per_minute?, tokens_per_minute?}`` on a key, user,
team or organisation that exists; one limit a scope. Changes reach this process's limiter at
once and every other process within the cache refresh (about a second).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from sqlalchemy import Connection

from thrifty.api.budget_schemas import Identifier, ScopeBody
from thrifty.api.budgets import check_scope_exists
from thrifty.api.responses import FastJSONResponse
from thrifty.api.state import AppState, require_admin
from thrifty.budgets.model import Scope, ScopeType, parse_scope_type
from thrifty.errors import InvalidInput
from thrifty.storage import ratelimit_repo
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.overrides_repo import new_id
from thrifty.storage.ratelimit_repo import RateLimit

router = APIRouter(prefix="/api/v1", tags=["rate limits"])
Admin = Annotated[AppState, Depends(require_admin)]
LimitId = Annotated[str, Path(min_length=1, max_length=64)]
#: Large enough for any real limit, small enough that the window arithmetic stays exact.
PerMinute = Annotated[StrictInt, Field(gt=0, le=10**10)]
ACTOR = "admin"


class RateLimitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Identifier | None = None
    scope: ScopeBody
    requests_per_minute: PerMinute | None = None
    tokens_per_minute: PerMinute | None = None


def _scope(body: RateLimitBody) -> Scope:
    kind = parse_scope_type(body.scope.type, field="scope.type")
    if kind is ScopeType.TAG:
        raise InvalidInput(
            "rate limits apply to a key, user, team or organization, not to a tag",
            field="scope.type",
        )
    if body.requests_per_minute is None and body.tokens_per_minute is None:
        raise InvalidInput(
            "give requests_per_minute, tokens_per_minute or both", field="requests_per_minute"
        )
    return Scope(kind, body.scope.id)


def limit_json(limit: RateLimit) -> dict[str, Any]:
    return {
        "id": limit.id,
        "scope": {"type": limit.scope.type.value, "id": limit.scope.id},
        "requests_per_minute": limit.requests_per_minute,
        "tokens_per_minute": limit.tokens_per_minute,
        "created_at": limit.created_at.isoformat(),
        "updated_at": limit.updated_at.isoformat(),
    }


def _audit(conn: Connection, state: AppState, action: str, limit_id: str, details: Any) -> None:
    record_audit(
        conn,
        actor=ACTOR,
        action=action,
        target_type="rate_limit",
        target_id=limit_id,
        details=details,
        at=state.now(),
    )


def _changed(request: Request) -> None:
    """This process's limiter sees the change at once (others within a refresh)."""
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.limits.refresh()


@router.post("/rate-limits", status_code=201, summary="Create a rate limit")
def create_rate_limit(body: RateLimitBody, state: Admin, request: Request) -> FastJSONResponse:
    scope = _scope(body)
    limit_id = body.id or new_id("rl")
    now = state.now()

    def write(conn: Connection) -> RateLimit:
        check_scope_exists(conn, scope)
        created = ratelimit_repo.insert_limit(
            conn, limit_id, scope, body.requests_per_minute, body.tokens_per_minute, now
        )
        _audit(conn, state, "rate_limit.created", limit_id, limit_json(created))
        return created

    created = state.database.write(write)
    _changed(request)
    return FastJSONResponse(limit_json(created), status_code=201)


@router.get("/rate-limits", summary="List rate limits")
def list_rate_limits(
    state: Admin,
    scope_type: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    scope_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> FastJSONResponse:
    scope = None
    if (scope_type is None) != (scope_id is None):
        raise InvalidInput("give scope_type and scope_id together", field="scope_id")
    if scope_type is not None and scope_id is not None:
        scope = Scope(parse_scope_type(scope_type, field="scope_type"), scope_id)
    limits = state.database.read(lambda conn: ratelimit_repo.list_limits(conn, scope))
    return FastJSONResponse({"rate_limits": [limit_json(limit) for limit in limits]})


@router.get("/rate-limits/{limit_id}", summary="One rate limit")
def get_rate_limit(limit_id: LimitId, state: Admin) -> FastJSONResponse:
    limit = state.database.read(lambda conn: ratelimit_repo.get_limit(conn, limit_id))
    return FastJSONResponse(limit_json(limit))


@router.put("/rate-limits/{limit_id}", summary="Replace a rate limit")
def replace_rate_limit(
    limit_id: LimitId, body: RateLimitBody, state: Admin, request: Request
) -> FastJSONResponse:
    if body.id is not None and body.id != limit_id:
        raise InvalidInput(f"body id {body.id!r} differs from the path's {limit_id!r}", field="id")
    scope = _scope(body)
    now = state.now()

    def write(conn: Connection) -> RateLimit:
        before = limit_json(ratelimit_repo.get_limit(conn, limit_id))
        check_scope_exists(conn, scope)
        updated = ratelimit_repo.update_limit(
            conn, limit_id, scope, body.requests_per_minute, body.tokens_per_minute, now
        )
        after = limit_json(updated)
        changes = {
            key: {"from": before[key], "to": after[key]}
            for key in after
            if key not in ("created_at", "updated_at") and before[key] != after[key]
        }
        _audit(conn, state, "rate_limit.updated", limit_id, {"changes": changes})
        return updated

    updated = state.database.write(write)
    _changed(request)
    return FastJSONResponse(limit_json(updated))


@router.delete("/rate-limits/{limit_id}", status_code=204, summary="Delete a rate limit")
def delete_rate_limit(limit_id: LimitId, state: Admin, request: Request) -> Response:
    def write(conn: Connection) -> None:
        gone = ratelimit_repo.delete_limit(conn, limit_id)
        _audit(conn, state, "rate_limit.deleted", limit_id, limit_json(gone))

    state.database.write(write)
    _changed(request)
    return Response(status_code=204)
