"""Override and emergency-extension endpoints.

* ``/api/v1/overrides``: request an allowance past a budget for critical requests; the admin
  approves or denies it. Approving or denying anything but a pending override is a 409.
* ``/api/v1/budgets/{id}/extensions``: raise a budget's limit for everyone until a time;
  ``DELETE`` ends one now.

Every change is written to the audit log in the same transaction (``storage.overrides_repo``).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import Connection

from thrifty.api.budget_schemas import (
    ApproveBody,
    DenyBody,
    ExactJSONRoute,
    ExtensionBody,
    OverrideBody,
)
from thrifty.api.responses import FastJSONResponse, money
from thrifty.api.state import AppState, require_admin
from thrifty.budgets.money import from_nano, parse_usd, to_nano
from thrifty.errors import InvalidInput
from thrifty.storage import budgets_repo, overrides_repo
from thrifty.storage.overrides_repo import ExtensionRecord, OverrideRecord, OverrideStatus

router = APIRouter(prefix="/api/v1", tags=["overrides"], route_class=ExactJSONRoute)
Admin = Annotated[AppState, Depends(require_admin)]
BudgetId = Annotated[str, Path(min_length=1, max_length=64)]
ItemId = Annotated[str, Path(min_length=1, max_length=64)]
ACTOR = "admin"


def _amount_nano(value: object, field: str = "amount") -> int:
    return to_nano(parse_usd(value, field=field, allow_zero=False), rounding=ROUND_FLOOR)


def override_json(record: OverrideRecord) -> dict[str, Any]:
    override = record.override
    return {
        "id": override.id,
        "budget_id": override.budget_id,
        "status": record.status.value,
        "amount": money(from_nano(override.amount_nano)),
        "consumed": money(from_nano(override.consumed_nano)),
        "remaining": money(from_nano(override.remaining_nano)),
        "models": sorted(override.models) if override.models is not None else None,
        "reason": record.reason,
        "requested_by": record.requested_by,
        "expires_at": override.expires_at.isoformat(),
        "decided_by": record.decided_by,
        "decided_at": record.decided_at.isoformat() if record.decided_at else None,
        "decision_reason": record.decision_reason,
        "created_at": record.created_at.isoformat(),
    }


def extension_json(record: ExtensionRecord, now: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "budget_id": record.budget_id,
        "amount": money(from_nano(record.amount_nano)),
        "reason": record.reason,
        "created_by": record.created_by,
        "starts_at": record.starts_at.isoformat(),
        "expires_at": record.expires_at.isoformat(),
        "active": record.active(now),
        "created_at": record.created_at.isoformat(),
    }


@router.post("/overrides", status_code=201, summary="Request an override (pending until decided)")
def request_override(body: OverrideBody, state: Admin) -> FastJSONResponse:
    amount = _amount_nano(body.amount)
    now = state.now()
    record = state.database.write(
        lambda conn: overrides_repo.create_override(
            conn,
            budget_id=body.budget_id,
            amount_nano=amount,
            reason=body.reason,
            expires_at=body.expires_at,
            requested_by=body.requested_by or ACTOR,
            now=now,
            models=body.models,
        )
    )
    return FastJSONResponse(override_json(record), status_code=201)


@router.get("/overrides", summary="List overrides, newest first")
def list_overrides(
    state: Admin,
    status: Annotated[str | None, Query(description="pending | approved | denied")] = None,
    budget_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> FastJSONResponse:
    wanted = None
    if status is not None:
        try:
            wanted = OverrideStatus(status.strip().lower())
        except ValueError:
            choices = ", ".join(s.value for s in OverrideStatus)
            raise InvalidInput(
                f"status must be one of {choices}; got {status!r}", field="status"
            ) from None
    records = state.database.read(
        lambda conn: overrides_repo.list_overrides(
            conn,
            status=wanted,
            budget_ids=None if budget_id is None else [budget_id],
            limit=limit,
            before_id=before_id,
        )
    )
    return FastJSONResponse({"overrides": [override_json(r) for r in records]})


@router.get("/overrides/{override_id}", summary="One override")
def get_override(override_id: ItemId, state: Admin) -> FastJSONResponse:
    record = state.database.read(lambda conn: overrides_repo.get_override(conn, override_id))
    return FastJSONResponse(override_json(record))


@router.post("/overrides/{override_id}/approve", summary="Approve a pending override")
def approve_override(
    override_id: ItemId, state: Admin, body: ApproveBody | None = None
) -> FastJSONResponse:
    now = state.now()
    reason = body.reason if body is not None else None
    record = state.database.write(
        lambda conn: overrides_repo.approve_override(
            conn, override_id, decided_by=ACTOR, reason=reason, now=now
        )
    )
    return FastJSONResponse(override_json(record))


@router.post("/overrides/{override_id}/deny", summary="Deny a pending override")
def deny_override(override_id: ItemId, body: DenyBody, state: Admin) -> FastJSONResponse:
    now = state.now()
    record = state.database.write(
        lambda conn: overrides_repo.deny_override(
            conn, override_id, decided_by=ACTOR, reason=body.reason, now=now
        )
    )
    return FastJSONResponse(override_json(record))


@router.post(
    "/budgets/{budget_id}/extensions",
    status_code=201,
    summary="Raise a budget's limit until a time (emergency extension)",
)
def create_extension(budget_id: BudgetId, body: ExtensionBody, state: Admin) -> FastJSONResponse:
    amount = _amount_nano(body.amount)
    now = state.now()
    if body.starts_at is not None and body.starts_at >= body.expires_at:
        raise InvalidInput("expires_at must be after starts_at", field="expires_at")
    record = state.database.write(
        lambda conn: overrides_repo.create_extension(
            conn,
            budget_id=budget_id,
            amount_nano=amount,
            reason=body.reason,
            expires_at=body.expires_at,
            created_by=ACTOR,
            now=now,
            starts_at=body.starts_at,
        )
    )
    return FastJSONResponse(extension_json(record, now), status_code=201)


@router.get("/budgets/{budget_id}/extensions", summary="A budget's emergency extensions")
def list_extensions(budget_id: BudgetId, state: Admin) -> FastJSONResponse:
    def read(conn: Connection) -> list[ExtensionRecord]:
        budgets_repo.get_budget(conn, budget_id)
        return overrides_repo.list_extensions(conn, budget_id)

    now = state.now()
    records = state.database.read(read)
    return FastJSONResponse({"extensions": [extension_json(r, now) for r in records]})


@router.delete(
    "/budgets/{budget_id}/extensions/{extension_id}", summary="End an emergency extension now"
)
def end_extension(budget_id: BudgetId, extension_id: ItemId, state: Admin) -> FastJSONResponse:
    now = state.now()
    record = state.database.write(
        lambda conn: overrides_repo.revoke_extension(
            conn, budget_id, extension_id, revoked_by=ACTOR, now=now
        )
    )
    return FastJSONResponse(extension_json(record, now))
