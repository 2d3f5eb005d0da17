"""Holds for clients that call providers themselves: ``/api/v1/ledger/holds``.

An API key places holds on its own chain; the admin key may name a principal (a key, a user,
a team or an organisation; the levels above are filled in from the directory). Either may add
``tags`` (as the gateway's ``x-thrifty-tags``): they join the chain, so tag budgets apply and
the usage record carries them. A settlement names the actual cost, or gives the usage of a
registered model and lets the price in force now make the cost (as the gateway does).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from thrifty.api.auth import Caller, CallerDep
from thrifty.api.responses import FastJSONResponse
from thrifty.budgets.model import Priority
from thrifty.budgets.money import format_nano, hold_nano, settlement_nano
from thrifty.budgets.principal import Principal, chain_scopes, charged_principal
from thrifty.errors import BudgetRefused, InvalidInput, NotFound, PermissionDenied
from thrifty.pricing.catalog import TokenUsage, cost_of
from thrifty.storage import ledger
from thrifty.storage.schema import holds

router = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])
RequestId = Annotated[str, Path(min_length=1, max_length=128)]
Usd = Annotated[Decimal, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
Tag = Annotated[str, Field(min_length=1, max_length=200)]


class ChainBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key_id: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    org_id: str | None = None
    tags: list[Tag] = Field(default_factory=list)


class HoldBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request_id: Annotated[str, Field(min_length=1, max_length=128)]
    amount: Usd
    ttl_s: Annotated[int, Field(ge=1, le=86_400)] = 600
    principal: ChainBody | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    priority: Priority | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    """Tags added to the chain's own (an API key's, or the named principal's)."""


class UsageBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    provider: str | None = None
    input_tokens: Annotated[int, Field(ge=0)] = 0
    cached_input_tokens: Annotated[int, Field(ge=0)] = 0
    output_tokens: Annotated[int, Field(ge=0)] = 0
    reasoning_tokens: Annotated[int, Field(ge=0)] = 0
    latency_ms: Annotated[int, Field(ge=0)] | None = None
    ttft_ms: Annotated[int, Field(ge=0)] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    task_type: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class SettleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    actual_cost: Usd | None = None
    """None: ``usage`` of a registered model at the price in force now."""
    usage: UsageBody | None = None


def principal_for(caller: Caller, body: ChainBody | None) -> Principal:
    """Whose chain a hold is charged to."""
    own = caller.principal
    if not own.is_admin:
        if body is not None:
            raise PermissionDenied("an API key holds on its own chain only", field="principal")
        return own
    if body is None:
        raise InvalidInput("the admin key must name a principal to charge", field="principal")
    return charged_principal(
        caller.facts,
        key_id=body.key_id,
        user_id=body.user_id,
        team_id=body.team_id,
        org_id=body.org_id,
        tags=body.tags,
    )


def _hold_json(result: ledger.HoldResult) -> dict[str, Any]:
    return {
        "request_id": result.request_id,
        "status": result.status,
        "amount": format_nano(result.amount_nano),
        "expires_at": result.expires_at.isoformat(),
        "budgets": [
            {
                "budget_id": line.budget_id,
                "window_index": line.window_index,
                "override_id": line.override_id,
            }
            for line in result.lines
        ],
        "replayed": result.replayed,
    }


@router.post("/holds", status_code=201, summary="Hold a worst-case cost on every budget of a chain")
async def place_hold(body: HoldBody, caller: CallerDep) -> FastJSONResponse:
    principal = principal_for(caller, body.principal)
    if body.tags:
        principal = replace(principal, tags=tuple(dict.fromkeys([*principal.tags, *body.tags])))
    state = caller.state
    now = state.now()
    charge = ledger.Charge(
        request_id=body.request_id,
        scopes=chain_scopes(principal),
        amount_nano=hold_nano(body.amount),
        expires_at=now + timedelta(seconds=body.ttl_s),
        model=body.model,
        priority=body.priority or principal.default_priority or Priority.NORMAL,
        key_id=principal.key_id,
        user_id=principal.user_id,
        team_id=principal.team_id,
        org_id=principal.org_id,
        tags=principal.tags,
    )
    result = await state.database.awrite(lambda conn: ledger.reserve(conn, charge, now))
    if result.refusal is not None:
        refusal = result.refusal
        raise BudgetRefused(refusal.message, reason=refusal.reason, budget_id=refusal.budget_id)
    return FastJSONResponse(_hold_json(result), status_code=200 if result.replayed else 201)


async def _check_owner(caller: Caller, request_id: str) -> None:
    if caller.principal.is_admin:
        return
    owner = await caller.state.database.aread(
        lambda conn: conn.execute(
            select(holds.c.key_id).where(holds.c.request_id == request_id)
        ).first()
    )
    if owner is None:
        raise NotFound(f"no hold for request {request_id!r}", field="request_id")
    if owner.key_id != caller.principal.key_id:
        raise PermissionDenied("may settle or void only its own holds", field="request_id")


def _actual_cost(caller: Caller, body: SettleBody, now: datetime) -> Decimal:
    """The body's actual cost, or its usage priced at the model's price in force ``now``."""
    if body.actual_cost is not None:
        return body.actual_cost
    usage = body.usage
    if usage is None or usage.model is None:
        raise InvalidInput(
            "give actual_cost, or usage with the model that made it to price it",
            field="actual_cost",
        )
    registry = caller.state.registry.get()
    registry.get(usage.model, field="usage.model")
    if usage.cached_input_tokens > usage.input_tokens:
        raise InvalidInput(
            "usage.cached_input_tokens: part of input_tokens, so at most that many",
            field="usage.cached_input_tokens",
        )
    price = registry.price_of(usage.model, now).price
    tokens = TokenUsage(
        usage.input_tokens, usage.output_tokens, cached_input_tokens=usage.cached_input_tokens
    )
    return cost_of(price, tokens)


@router.post("/holds/{request_id}/settle", summary="Post the actual cost and release the rest")
async def settle_hold(
    request_id: RequestId, body: SettleBody, caller: CallerDep
) -> FastJSONResponse:
    await _check_owner(caller, request_id)
    usage = ledger.Usage(**body.usage.model_dump()) if body.usage else None
    now = caller.state.now()
    actual = settlement_nano(_actual_cost(caller, body, now))
    result = await caller.state.database.awrite(
        lambda conn: ledger.settle(conn, request_id, actual, usage, now)
    )
    return FastJSONResponse(
        {
            "request_id": request_id,
            "status": "settled",
            "actual_cost": format_nano(result.actual_nano),
            "released": format_nano(result.released_nano),
            "replayed": result.replayed,
            "late": result.late,
        }
    )


@router.post("/holds/{request_id}/void", summary="Release a hold without posting anything")
async def void_hold(request_id: RequestId, caller: CallerDep) -> FastJSONResponse:
    await _check_owner(caller, request_id)
    now = caller.state.now()
    changed = await caller.state.database.awrite(lambda conn: ledger.void(conn, request_id, now))
    return FastJSONResponse({"request_id": request_id, "status": "voided", "replayed": not changed})
