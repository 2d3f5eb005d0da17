"""Audit log and alert endpoints: ``/api/v1/audit`` and ``/api/v1/alerts`` (newest first).

The admin key reads everything. An API key reads the entries and alerts of what it may see
(``budgets.principal.can_see``): budgets of visible scopes and their overrides, and the
organisations, teams, users and keys it sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from sqlalchemy import Connection

from thrifty.api.auth import Caller, CallerDep
from thrifty.api.budgets import alert_json, visible_budget_ids
from thrifty.api.responses import FastJSONResponse
from thrifty.budgets.model import ScopeType
from thrifty.errors import InvalidInput
from thrifty.storage import alerts_repo, overrides_repo
from thrifty.storage.audit_repo import list_audit

router = APIRouter(prefix="/api/v1", tags=["audit"])
Limit = Annotated[int, Query(ge=1, le=1000)]


def _check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since", field="until")


def visible_targets(caller: Caller, conn: Connection) -> dict[str, list[str]]:
    """Audit target type → the ids of that type ``caller`` may see (not for the admin key)."""
    facts, principal = caller.facts, caller.principal
    budget_ids = visible_budget_ids(caller, conn) or []
    overrides = overrides_repo.list_overrides(conn, budget_ids=budget_ids, limit=100_000)
    candidates = {
        ScopeType.ORGANIZATION: {*facts.team_org.values(), principal.org_id},
        ScopeType.TEAM: {*facts.team_org, principal.team_id},
        ScopeType.USER: {*facts.user_team, principal.user_id},
        ScopeType.KEY: {*facts.key_user, principal.key_id},
    }
    names = {ScopeType.ORGANIZATION: "org", ScopeType.TEAM: "team"}
    targets = {
        names.get(kind, kind.value): sorted(i for i in ids if i and caller.sees(kind, i))
        for kind, ids in candidates.items()
    }
    return targets | {"budget": budget_ids, "override": [r.override.id for r in overrides]}


def _newest(pages: Sequence[list[dict[str, Any]]], limit: int) -> list[dict[str, Any]]:
    merged = [entry for page in pages for entry in page]
    return sorted(merged, key=lambda entry: entry["id"], reverse=True)[:limit]


@router.get("/audit", summary="The audit log: who changed what, newest first")
def audit(
    caller: CallerDep,
    target_type: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    target_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Limit = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> FastJSONResponse:
    _check_range(since, until)

    def page(conn: Connection, kind: str | None, ids: list[str] | None) -> list[dict[str, Any]]:
        if ids is not None and not ids:
            return []
        return list_audit(
            conn,
            target_type=kind,
            target_ids=ids,
            action=action,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        )

    def read(conn: Connection) -> list[dict[str, Any]]:
        wanted = None if target_id is None else [target_id]
        if caller.principal.is_admin:
            return page(conn, target_type, wanted)
        pages = []
        for kind, ids in visible_targets(caller, conn).items():
            if target_type is None or kind == target_type:
                allowed = ids if wanted is None else [i for i in ids if i in wanted]
                pages.append(page(conn, kind, allowed))
        return _newest(pages, limit)

    entries = caller.state.database.read(read)
    next_before = entries[-1]["id"] if len(entries) == limit else None
    return FastJSONResponse({"entries": entries, "next_before_id": next_before})


@router.get("/alerts", summary="Alert events the ledger recorded, newest first")
def alerts(
    caller: CallerDep,
    budget_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    kind: Annotated[
        str | None, Query(max_length=32, description="threshold | exhausted | turnover")
    ] = None,
    since: AwareDatetime | None = None,
    limit: Limit = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> FastJSONResponse:
    def read(conn: Connection) -> list[alerts_repo.AlertEvent]:
        budget_ids = visible_budget_ids(caller, conn)
        if budget_id is not None:
            budget_ids = [budget_id] if budget_ids is None or budget_id in budget_ids else []
        return alerts_repo.list_alerts(
            conn, budget_ids=budget_ids, since=since, kind=kind, limit=limit, before_id=before_id
        )

    events = caller.state.database.read(read)
    next_before = events[-1].id if len(events) == limit else None
    return FastJSONResponse(
        {"alerts": [alert_json(e) for e in events], "next_before_id": next_before}
    )
