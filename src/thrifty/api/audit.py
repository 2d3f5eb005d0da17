"""Audit log and alert endpoints: ``/api/v1/audit`` and ``/api/v1/alerts`` (newest first)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from thrifty.api.budgets import alert_json
from thrifty.api.responses import FastJSONResponse
from thrifty.api.state import AppState, require_admin
from thrifty.errors import InvalidInput
from thrifty.storage import alerts_repo
from thrifty.storage.audit_repo import list_audit

router = APIRouter(prefix="/api/v1", tags=["audit"])
Admin = Annotated[AppState, Depends(require_admin)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since", field="until")


@router.get("/audit", summary="The audit log: who changed what, newest first")
def audit(
    state: Admin,
    target_type: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    target_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Limit = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> FastJSONResponse:
    _check_range(since, until)
    entries = state.database.read(
        lambda conn: list_audit(
            conn,
            target_type=target_type,
            target_ids=None if target_id is None else [target_id],
            action=action,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        )
    )
    next_before = entries[-1]["id"] if len(entries) == limit else None
    return FastJSONResponse({"entries": entries, "next_before_id": next_before})


@router.get("/alerts", summary="Alert events the ledger recorded, newest first")
def alerts(
    state: Admin,
    budget_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    kind: Annotated[
        str | None, Query(max_length=32, description="threshold | exhausted | turnover")
    ] = None,
    since: AwareDatetime | None = None,
    limit: Limit = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> FastJSONResponse:
    events = state.database.read(
        lambda conn: alerts_repo.list_alerts(
            conn,
            budget_ids=None if budget_id is None else [budget_id],
            since=since,
            kind=kind,
            limit=limit,
            before_id=before_id,
        )
    )
    next_before = events[-1].id if len(events) == limit else None
    return FastJSONResponse(
        {"alerts": [alert_json(e) for e in events], "next_before_id": next_before}
    )
