"""Override and emergency-extension endpoints.

* ``/api/v1/overrides``: any caller that sees a budget may request an allowance past it for
  critical requests; the budget's owner decides. Deciding anything but a pending override is
  a 409.
* ``/api/v1/budgets/{id}/extensions``: the owner raises a budget's limit for everyone until a
  time; ``DELETE`` ends one now.

The owner of a budget is the admin key, or an org or team admin whose unit the budget's scope
lies in (``api.budgets.may_decide``). Reads follow the visibility rules of ``budgets.principal``.

Every change is written to the audit log in the same transaction (``storage.overrides_repo``).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from sqlalchemy import Connection

from thrifty.api.auth import Caller, CallerDep
from thrifty.api.budget_schemas import (
    ApproveBody,
    DenyBody,
    ExactJSONRoute,
    ExtensionBody,
    OverrideBody,
)
from thrifty.api.budgets import check_may_decide, check_sees_budget, visible_budget_ids
from thrifty.api.responses import FastJSONResponse, money
from thrifty.budgets.money import from_nano, parse_usd, to_nano
from thrifty.errors import InvalidInput
from thrifty.storage import budgets_repo, overrides_repo
from thrifty.storage.budgets_repo import StoredBudget
from thrifty.storage.overrides_repo import ExtensionRecord, OverrideRecord, OverrideStatus

router = APIRouter(prefix="/api/v1", tags=["overrides"], route_class=ExactJSONRoute)
BudgetId = Annotated[str, Path(min_length=1, max_length=64)]
ItemId = Annotated[str, Path(min_length=1, max_length=64)]


def _budget_of(conn: Connection, override_id: str) -> StoredBudget:
    return budgets_repo.get_budget(
        conn, overrides_repo.get_override(conn, override_id).override.budget_id
    )


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
def request_override(body: OverrideBody, caller: CallerDep) -> FastJSONResponse:
    """Any caller that sees the budget may ask; only the admin key may name another requester."""
    amount = _amount_nano(body.amount)
    actor = caller.principal.actor
    if body.requested_by not in (None, actor) and not caller.principal.is_admin:
        raise caller.denied("may only request overrides in its own name", field="requested_by")
    now = caller.state.now()

    def write(conn: Connection) -> OverrideRecord:
        check_sees_budget(caller, budgets_repo.get_budget(conn, body.budget_id))
        return overrides_repo.create_override(
            conn,
            budget_id=body.budget_id,
            amount_nano=amount,
            reason=body.reason,
            expires_at=body.expires_at,
            requested_by=body.requested_by or actor,
            now=now,
            models=body.models,
        )

    return FastJSONResponse(override_json(caller.state.database.write(write)), status_code=201)


@router.get("/overrides", summary="List overrides, newest first")
def list_overrides(
    caller: CallerDep,
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

    def read(conn: Connection) -> list[OverrideRecord]:
        budget_ids = visible_budget_ids(caller, conn)
        if budget_id is not None:
            budget_ids = [budget_id] if budget_ids is None or budget_id in budget_ids else []
        return overrides_repo.list_overrides(
            conn, status=wanted, budget_ids=budget_ids, limit=limit, before_id=before_id
        )

    records = caller.state.database.read(read)
    return FastJSONResponse({"overrides": [override_json(r) for r in records]})


@router.get("/overrides/{override_id}", summary="One override")
def get_override(override_id: ItemId, caller: CallerDep) -> FastJSONResponse:
    def read(conn: Connection) -> OverrideRecord:
        record = overrides_repo.get_override(conn, override_id)
        if not caller.principal.is_admin:
            check_sees_budget(caller, _budget_of(conn, override_id), field="override_id")
        return record

    return FastJSONResponse(override_json(caller.state.database.read(read)))


@router.post("/overrides/{override_id}/approve", summary="Approve a pending override")
def approve_override(
    override_id: ItemId, caller: CallerDep, body: ApproveBody | None = None
) -> FastJSONResponse:
    return _decide(caller, override_id, approve=True, reason=body.reason if body else None)


@router.post("/overrides/{override_id}/deny", summary="Deny a pending override")
def deny_override(override_id: ItemId, body: DenyBody, caller: CallerDep) -> FastJSONResponse:
    return _decide(caller, override_id, approve=False, reason=body.reason)


def _decide(
    caller: Caller, override_id: str, *, approve: bool, reason: str | None
) -> FastJSONResponse:
    now = caller.state.now()

    def write(conn: Connection) -> OverrideRecord:
        if not caller.principal.is_admin:
            check_may_decide(caller, _budget_of(conn, override_id), field="override_id")
        return overrides_repo.decide_override(
            conn,
            override_id,
            approve=approve,
            decided_by=caller.principal.actor,
            reason=reason,
            now=now,
        )

    return FastJSONResponse(override_json(caller.state.database.write(write)))


@router.post(
    "/budgets/{budget_id}/extensions",
    status_code=201,
    summary="Raise a budget's limit until a time (emergency extension)",
)
def create_extension(
    budget_id: BudgetId, body: ExtensionBody, caller: CallerDep
) -> FastJSONResponse:
    amount = _amount_nano(body.amount)
    now = caller.state.now()
    if body.starts_at is not None and body.starts_at >= body.expires_at:
        raise InvalidInput("expires_at must be after starts_at", field="expires_at")

    def write(conn: Connection) -> ExtensionRecord:
        check_may_decide(caller, budgets_repo.get_budget(conn, budget_id))
        return overrides_repo.create_extension(
            conn,
            budget_id=budget_id,
            amount_nano=amount,
            reason=body.reason,
            expires_at=body.expires_at,
            created_by=caller.principal.actor,
            now=now,
            starts_at=body.starts_at,
        )

    record = caller.state.database.write(write)
    return FastJSONResponse(extension_json(record, now), status_code=201)


@router.get("/budgets/{budget_id}/extensions", summary="A budget's emergency extensions")
def list_extensions(budget_id: BudgetId, caller: CallerDep) -> FastJSONResponse:
    def read(conn: Connection) -> list[ExtensionRecord]:
        check_sees_budget(caller, budgets_repo.get_budget(conn, budget_id))
        return overrides_repo.list_extensions(conn, budget_id)

    now = caller.state.now()
    records = caller.state.database.read(read)
    return FastJSONResponse({"extensions": [extension_json(r, now) for r in records]})


@router.delete(
    "/budgets/{budget_id}/extensions/{extension_id}", summary="End an emergency extension now"
)
def end_extension(budget_id: BudgetId, extension_id: ItemId, caller: CallerDep) -> FastJSONResponse:
    now = caller.state.now()

    def write(conn: Connection) -> ExtensionRecord:
        check_may_decide(caller, budgets_repo.get_budget(conn, budget_id))
        return overrides_repo.revoke_extension(
            conn, budget_id, extension_id, revoked_by=caller.principal.actor, now=now
        )

    return FastJSONResponse(extension_json(caller.state.database.write(write), now))
