"""The explainer: every live decision of the gateway, and quality feedback on answers.

``GET /api/v1/explainer/{id}``, ``/explainer/request/{requestId}``, ``/explainer/recent`` and
``/explainer/stats`` read the stored decisions; an API key sees the decisions of what it may
see (its organisation for an org admin, its team for a team admin, its own user otherwise).
``POST /api/v1/feedback`` scores an answered request; the score updates the answering model's
quality for the request's task type (``routing.feedback``).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from thrifty.api.auth import Caller, CallerDep
from thrifty.api.responses import FastJSONResponse
from thrifty.budgets.model import ScopeType
from thrifty.budgets.principal import Role
from thrifty.errors import NotFound
from thrifty.storage import selection_repo as repo
from thrifty.storage.selection_repo import Visibility

router = APIRouter(prefix="/api/v1", tags=["explainer"])
STATS_SAMPLE = 10_000


def visibility(caller: Caller) -> Visibility:
    principal = caller.principal
    if principal.is_admin:
        return Visibility()
    if principal.role is Role.ORG_ADMIN:
        return Visibility(org_id=principal.org_id)
    if principal.role is Role.TEAM_ADMIN:
        return Visibility(team_id=principal.team_id)
    return Visibility(user_id=principal.user_id)


def _check(caller: Caller, decision: dict[str, Any], field: str) -> dict[str, Any]:
    """A decision the caller may not see is reported as not found (no existence leak)."""
    for scope_type, key in ((ScopeType.USER, "userId"), (ScopeType.TEAM, "teamId")):
        scope_id = decision.get(key)
        if scope_id is not None and caller.sees(scope_type, scope_id):
            return decision
    if caller.principal.is_admin:
        return decision
    raise NotFound("no such decision", field=field)


@router.get("/explainer/recent", summary="The latest decisions, newest first")
async def recent(
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    model: Annotated[str | None, Query(max_length=200)] = None,
) -> FastJSONResponse:
    seen = visibility(caller)
    rows = await caller.state.database.aread(
        lambda conn: repo.recent_decisions(conn, seen, limit=limit, model=model)
    )
    return FastJSONResponse({"decisions": rows})


_DETAIL = re.compile(r"\s*\(.*\)$|\s+than\s+\S+$|\s+[\d.]+\s+USD$")


def loss_kind(reason: str) -> str:
    """A loss reason without its figures: "quality below requirement (0.8 < 0.9)" → the
    part before the parenthesis; "costs more than gpt-4o" → "costs more"."""
    return _DETAIL.sub("", reason).strip()


@router.get("/explainer/stats", summary="How often each model won, and why others lost")
async def stats(
    caller: CallerDep,
    since: AwareDatetime | None = None,
) -> FastJSONResponse:
    now = caller.state.now()
    start: datetime = since or now - timedelta(days=7)
    seen = visibility(caller)
    wins, bodies = await caller.state.database.aread(
        lambda conn: repo.decision_stats(conn, seen, start, sample=STATS_SAMPLE)
    )
    losses: dict[str, Counter[str]] = {}
    for body in bodies:
        for alternative in body.get("alternatives") or []:
            losses.setdefault(alternative["model"], Counter())[
                loss_kind(alternative.get("reason", ""))
            ] += 1
    total = sum(wins.values())
    return FastJSONResponse(
        {
            "since": start.isoformat(),
            "decisions": total,
            "wins": [
                {"model": model, "count": count, "share": round(count / total, 4)}
                for model, count in sorted(wins.items(), key=lambda kv: (-kv[1], str(kv[0])))
            ],
            "losses": {
                model: dict(counter.most_common()) for model, counter in sorted(losses.items())
            },
            "sampled": len(bodies),
        }
    )


@router.get("/explainer/request/{request_id}", summary="The decision of one request")
async def by_request(
    caller: CallerDep, request_id: Annotated[str, Path(min_length=1, max_length=128)]
) -> FastJSONResponse:
    decision = await caller.state.database.aread(
        lambda conn: repo.decision_for_request(conn, request_id)
    )
    return FastJSONResponse(_check(caller, decision, "requestId"))


@router.get("/explainer/{decision_id}", summary="One stored decision, with every candidate")
async def by_id(
    caller: CallerDep, decision_id: Annotated[str, Path(min_length=1, max_length=64)]
) -> FastJSONResponse:
    decision = await caller.state.database.aread(lambda conn: repo.get_decision(conn, decision_id))
    return FastJSONResponse(_check(caller, decision, "id"))


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    score: Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
    comment: Annotated[str, Field(max_length=2000)] | None = None


@router.post("/feedback", status_code=201, summary="Score the answer to a request (0..1)")
async def post_feedback(
    body: FeedbackBody, request: Request, caller: CallerDep
) -> FastJSONResponse:
    state = caller.state
    now = state.now()

    def write(conn: Any) -> dict[str, Any]:
        owner = repo.usage_owner(conn, body.request_id)
        _check(caller, owner, "request_id")
        return repo.record_feedback(
            conn, body.request_id, body.score, key_id=caller.principal.key_id,
            comment=body.comment, now=now,
        )  # fmt: skip

    result = await state.database.awrite(write)
    # This process sees its own feedback at once; the others within a second.
    await anyio.to_thread.run_sync(request.app.state.steering.quality.refresh)
    return FastJSONResponse(result, status_code=201)
