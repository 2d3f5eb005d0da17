"""Budget endpoints: ``/api/v1/budgets[/{id}]`` and budget status by budget or by scope.

Bodies are checked with the budget core's parsers, so an error names the body's field
(``limit``, ``scope.type``, ``start_date``, ``thresholds[1].percent``, …). Status is the ledger's
``balances.budget_states``: one balance row per budget, never a scan of usage records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_FLOOR
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy import Connection, select

from thrifty.api.auth import Caller, CallerDep
from thrifty.api.budget_schemas import BudgetBody, ExactJSONRoute
from thrifty.api.responses import FastJSONResponse, money
from thrifty.api.state import AppState, require_admin
from thrifty.budgets.model import BudgetSpec, BudgetState, Scope, ScopeType, parse_mode
from thrifty.budgets.model import parse_scope_type as _parse_scope_type
from thrifty.budgets.money import from_nano, parse_nano
from thrifty.budgets.periods import CarryOverPolicy, parse_period
from thrifty.budgets.policy import Restrictions
from thrifty.budgets.principal import Role, can_manage
from thrifty.budgets.status import BudgetStatus, scope_status, status_of
from thrifty.budgets.thresholds import DEFAULT_THRESHOLDS, Threshold, parse_thresholds
from thrifty.errors import Conflict, InvalidInput, NotFound
from thrifty.storage import alerts_repo, balances, budgets_repo, overrides_repo
from thrifty.storage.alerts_repo import AlertEvent
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.budgets_repo import StoredBudget
from thrifty.storage.schema import api_keys, orgs, teams, users
from thrifty.storage.sql import cached, pairs, read_time

router = APIRouter(prefix="/api/v1", tags=["budgets"], route_class=ExactJSONRoute)
Admin = Annotated[AppState, Depends(require_admin)]
BudgetId = Annotated[str, Path(min_length=1, max_length=64)]
ACTOR = "admin"

# The core names period fields after its own Period value; the body spells them differently.
_BODY_FIELDS = {
    "period.kind": "period",
    "period.start": "start_date",
    "period.end": "end_date",
    "period.timezone": "timezone",
}
_SCOPE_TABLES = {
    ScopeType.ORGANIZATION: orgs,
    ScopeType.TEAM: teams,
    ScopeType.USER: users,
    ScopeType.KEY: api_keys,
}


def _body_field(error: InvalidInput) -> InvalidInput:
    old = error.field or ""
    new = _BODY_FIELDS.get(old)
    if new is None:
        return error
    message = new + error.message[len(old) :] if error.message.startswith(old) else error.message
    return InvalidInput(message, field=new)


def _thresholds(raw: list[Any] | None) -> tuple[Threshold, ...]:
    if raw is None:
        return DEFAULT_THRESHOLDS
    thresholds = parse_thresholds(raw)
    # parse_thresholds sorts; a list written out of order is more likely a mistake than intent.
    given = [parse_thresholds([item])[0].percent for item in raw]
    for position in range(1, len(given)):
        if given[position] <= given[position - 1]:
            raise InvalidInput(
                f"thresholds must be in ascending order of percent: {given[position]}% comes "
                f"after {given[position - 1]}%",
                field=f"thresholds[{position}].percent",
            )
    return thresholds


def spec_from_body(state: AppState, body: BudgetBody, budget_id: str) -> BudgetSpec:
    """The :class:`BudgetSpec` a body describes; ``InvalidInput`` names the body's field."""
    try:
        period = parse_period(
            body.period, start=body.start_date, timezone=body.timezone, end=body.end_date
        )
        scope = Scope(_parse_scope_type(body.scope.type, field="scope.type"), body.scope.id)
        carry = body.carry_over
        cap = None
        if carry is not None and carry.cap is not None:
            cap = parse_nano(carry.cap, field="carry_over.cap", rounding=ROUND_FLOOR)
        registry = state.registry.get()
        for position, model in enumerate(body.models or ()):
            if model not in registry:
                raise InvalidInput(
                    f"model {model!r} is not registered", field=f"models[{position}]"
                )
        return BudgetSpec(
            id=budget_id,
            scope=scope,
            limit_nano=parse_nano(body.limit, field="limit", rounding=ROUND_FLOOR),
            period=period,
            mode=parse_mode(body.mode, field="mode"),
            models=frozenset(body.models) if body.models is not None else None,
            thresholds=_thresholds(body.thresholds),
            carry_over=CarryOverPolicy(carry is not None and carry.enabled, cap),
        )
    except InvalidInput as error:
        raise _body_field(error) from None


def check_scope_exists(conn: Connection, scope: Scope, *, field: str = "scope.id") -> None:
    """Organisations, teams, users and keys must exist; any tag may have a budget."""
    table = _SCOPE_TABLES.get(scope.type)
    if table is None:
        return
    if conn.execute(select(table.c.id).where(table.c.id == scope.id)).first() is None:
        raise InvalidInput(f"{scope.type} {scope.id!r} does not exist", field=field)


def budget_json(stored: StoredBudget) -> dict[str, Any]:
    spec = stored.spec
    return {
        "id": spec.id,
        "name": stored.name,
        "scope": {"type": spec.scope.type.value, "id": spec.scope.id},
        "limit": money(from_nano(spec.limit_nano)),
        "period": spec.period.kind.value,
        "start_date": spec.period.start.isoformat(),
        "end_date": spec.period.end.isoformat() if spec.period.end else None,
        "timezone": spec.period.timezone,
        "mode": spec.mode.value,
        "models": sorted(spec.models) if spec.models is not None else None,
        "thresholds": budgets_repo.thresholds_json(spec.thresholds),
        "carry_over": {
            "enabled": spec.carry_over.enabled,
            "cap": None
            if spec.carry_over.cap_nano is None
            else money(from_nano(spec.carry_over.cap_nano)),
        },
        "created_at": stored.created_at.isoformat(),
        "updated_at": stored.updated_at.isoformat(),
    }


def visible(caller: Caller, stored: Sequence[StoredBudget]) -> list[StoredBudget]:
    """The budgets whose scope ``caller`` may see (all of them for the admin key)."""
    return [b for b in stored if caller.sees(b.spec.scope.type, b.spec.scope.id)]


def visible_budget_ids(caller: Caller, conn: Connection) -> list[str] | None:
    """Ids of the live budgets ``caller`` may see; ``None`` (no filter) for the admin key."""
    if caller.principal.is_admin:
        return None
    return [b.spec.id for b in visible(caller, budgets_repo.list_budgets(conn))]


def check_sees_budget(caller: Caller, stored: StoredBudget, *, field: str = "budget_id") -> None:
    caller.check_sees(stored.spec.scope.type, stored.spec.scope.id, field=field)


def may_decide(caller: Caller, scope: Scope) -> bool:
    """Whether ``caller`` owns ``scope`` for overrides and extensions: the admin key, an org
    admin inside (or for) its organisation, a team admin for its team or the team's users."""
    principal = caller.principal
    if principal.is_admin or can_manage(principal, scope, caller.facts):
        return True
    own_unit = {
        Role.ORG_ADMIN: Scope(ScopeType.ORGANIZATION, principal.org_id or "-"),
        Role.TEAM_ADMIN: Scope(ScopeType.TEAM, principal.team_id or "-"),
    }
    return principal.role is not None and own_unit.get(principal.role) == scope


def check_may_decide(caller: Caller, stored: StoredBudget, *, field: str = "budget_id") -> None:
    check_sees_budget(caller, stored, field=field)
    if not may_decide(caller, stored.spec.scope):
        raise caller.denied(
            f"may not decide overrides or extensions of budget {stored.spec.id!r} "
            f"({stored.spec.scope}): the admin key or the scope's org or team admin may",
            field=field,
        )


def _audit(
    conn: Connection, action: str, budget_id: str, details: dict[str, Any], now: datetime
) -> None:
    record_audit(
        conn,
        actor=ACTOR,
        action=action,
        target_type="budget",
        target_id=budget_id,
        details=details,
        at=now,
    )


@router.get("/budgets", summary="List budgets (with each one's status on request)")
def list_budgets(
    caller: CallerDep,
    include: Annotated[str | None, Query(max_length=20, description="status")] = None,
) -> FastJSONResponse:
    if include not in (None, "", "status"):
        raise InvalidInput("include may only be status", field="include")
    now = caller.state.now()

    def read(conn: Connection) -> list[dict[str, Any]]:
        shown = visible(caller, budgets_repo.list_budgets(conn))
        listed = [budget_json(b) for b in shown]
        if include == "status":  # every status in one read, as GET /budgets/{id}/status
            reports, _ = statuses(conn, shown, now)
            listed = [b | {"status": r} for b, r in zip(listed, reports, strict=True)]
        return listed

    return FastJSONResponse({"budgets": caller.state.database.read(read)})


@router.post("/budgets", status_code=201, summary="Create a budget")
def create_budget(body: BudgetBody, state: Admin) -> FastJSONResponse:
    budget_id = body.id or overrides_repo.new_id("bud")
    spec = spec_from_body(state, body, budget_id)
    now = state.now()

    def write(conn: Connection) -> StoredBudget:
        if budgets_repo.budget_id_taken(conn, budget_id):
            raise Conflict(f"budget {budget_id!r} already exists", field="id")
        check_scope_exists(conn, spec.scope)
        budgets_repo.insert_budget(conn, spec, body.name, now)
        stored = budgets_repo.get_budget(conn, budget_id)
        _audit(conn, "budget.created", budget_id, budget_json(stored), now)
        return stored

    return FastJSONResponse(budget_json(state.database.write(write)), status_code=201)


@router.get("/budgets/{budget_id}", summary="One budget")
def get_budget(budget_id: BudgetId, caller: CallerDep) -> FastJSONResponse:
    stored = caller.state.database.read(lambda conn: budgets_repo.get_budget(conn, budget_id))
    check_sees_budget(caller, stored)
    return FastJSONResponse(budget_json(stored))


@router.put("/budgets/{budget_id}", summary="Replace a budget's specification")
def replace_budget(budget_id: BudgetId, body: BudgetBody, state: Admin) -> FastJSONResponse:
    if body.id is not None and body.id != budget_id:
        raise InvalidInput(f"body id {body.id!r} differs from the path's {budget_id!r}", field="id")
    spec = spec_from_body(state, body, budget_id)
    now = state.now()

    def write(conn: Connection) -> StoredBudget:
        before = budget_json(budgets_repo.get_budget(conn, budget_id))
        check_scope_exists(conn, spec.scope)
        budgets_repo.update_budget(conn, spec, body.name, now)
        stored = budgets_repo.get_budget(conn, budget_id)
        after = budget_json(stored)
        changes = {
            key: {"from": before[key], "to": after[key]}
            for key in after
            if key not in ("updated_at", "created_at") and before[key] != after[key]
        }
        _audit(conn, "budget.updated", budget_id, {"changes": changes}, now)
        return stored

    return FastJSONResponse(budget_json(state.database.write(write)))


@router.delete("/budgets/{budget_id}", status_code=204, summary="Delete a budget (soft)")
def delete_budget(budget_id: BudgetId, state: Admin) -> Response:
    now = state.now()

    def write(conn: Connection) -> None:
        budgets_repo.delete_budget(conn, budget_id, now)
        _audit(conn, "budget.deleted", budget_id, {}, now)

    state.database.write(write)
    return Response(status_code=204)


# --- Status ---------------------------------------------------------------------------------


def _last_updated(conn: Connection, states: Sequence[BudgetState]) -> dict[str, datetime]:
    keys = [(s.spec.id, s.window.index) for s in states]
    if not keys:
        return {}
    placeholders, params = pairs("k", keys)
    query = cached(
        "SELECT budget_id, updated_at FROM budget_balances"  # noqa: S608
        f" WHERE (budget_id, window_index) IN {placeholders}"
    )
    found = {}
    for row in query(conn, params):
        updated = read_time(row.updated_at)
        assert updated is not None
        found[row.budget_id] = updated
    return found


def alert_json(event: AlertEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "budget_id": event.budget_id or None,  # None: an event of no budget (upstream down)
        "window_index": event.window_index,
        "kind": event.kind,
        "threshold": event.threshold,
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
        "acknowledged_at": event.acknowledged_at.isoformat() if event.acknowledged_at else None,
    }


def _usd(nano: int) -> str | None:
    return money(from_nano(nano))


def _status_json(
    stored: StoredBudget,
    state: BudgetState | None,
    report: BudgetStatus | None,
    alerts: Sequence[AlertEvent],
    updated: datetime | None,
) -> dict[str, Any]:
    spec = stored.spec
    head = {
        "budgetId": spec.id,
        "name": stored.name,
        "scope": {"type": spec.scope.type.value, "id": spec.scope.id},
        "mode": spec.mode.value,
        "active": report is not None,
    }
    if state is None or report is None:  # before the start date or after a custom period
        return head | {
            "limit": _usd(spec.limit_nano),
            "baseLimit": _usd(spec.limit_nano),
            "carriedOver": "0",
            "extensions": "0",
            "currentSpend": "0",
            "held": "0",
            "remaining": _usd(spec.limit_nano),
            "percentUsed": "0.00",
            "status": "normal",
            "daysRemaining": None,
            "burnRate": "0",
            "projectedTotal": "0",
            "activeAlerts": [],
            "lastUpdated": stored.updated_at.isoformat(),
            "period": None,
        }
    return head | {
        "limit": _usd(report.limit_nano),
        "baseLimit": _usd(spec.limit_nano),
        "carriedOver": _usd(state.carried_nano),
        "extensions": _usd(state.extension_nano),
        "currentSpend": _usd(report.current_spend_nano),
        "held": _usd(report.held_nano),
        "remaining": _usd(report.remaining_nano),
        "percentUsed": format(report.percent_used, "f"),
        "status": report.status.value,
        "daysRemaining": format(report.days_remaining, "f"),
        "burnRate": _usd(report.burn_rate_nano_per_day),
        "projectedTotal": _usd(report.projected_total_nano),
        "activeAlerts": [alert_json(a) for a in alerts],
        "lastUpdated": max(updated or stored.updated_at, stored.updated_at).isoformat(),
        "period": {
            "index": report.window.index,
            "start": report.window.start_utc.isoformat(),
            "end": report.window.end_utc.isoformat(),
        },
    }


def restrictions_json(restrictions: Restrictions) -> dict[str, Any]:
    def usd(nano: int | None) -> str | None:
        return None if nano is None else _usd(nano)

    return {
        "modelDowngrading": restrictions.model_downgrading.value,
        "blockedModels": sorted(restrictions.blocked_models),
        "requireApprovalAbove": usd(restrictions.require_approval_above_nano),
        "maxCostPerRequest": usd(restrictions.max_cost_per_request_nano),
        "blockNonEssential": restrictions.block_non_essential,
        "blocked": restrictions.blocked,
        "blockingBudget": restrictions.blocking_budget,
        "overridesUsed": list(restrictions.overrides_used),
        "reasons": list(restrictions.reasons),
    }


def statuses(
    conn: Connection, stored: Sequence[StoredBudget], now: datetime
) -> tuple[list[dict[str, Any]], list[BudgetState]]:
    """The status JSON of each budget (in order) and the states of the active ones."""
    states = balances.budget_states(conn, [s.spec for s in stored], now)
    by_id = {s.spec.id: s for s in states}
    updated = _last_updated(conn, states)
    result = []
    for budget in stored:
        state = by_id.get(budget.spec.id)
        report = status_of(state) if state is not None else None
        alerts = (
            alerts_repo.active_alerts(conn, budget.spec.id, state.window.index)
            if state is not None
            else []
        )
        result.append(_status_json(budget, state, report, alerts, updated.get(budget.spec.id)))
    return result, states


@router.get("/budgets/{budget_id}/status", summary="A budget's spend, status and projection")
def budget_status(budget_id: BudgetId, caller: CallerDep) -> FastJSONResponse:
    state = caller.state
    now = state.now()

    def read(conn: Connection) -> dict[str, Any]:
        stored = budgets_repo.get_budget(conn, budget_id)
        check_sees_budget(caller, stored)
        (report,), _ = statuses(conn, [stored], now)
        return report | {"asOf": now.isoformat()}

    return FastJSONResponse(state.database.read(read))


@router.get(
    "/budgets/status/{scope_type}/{scope_id}",
    summary="Every budget of a scope, its worst status and the restrictions requests meet",
)
def scope_budget_status(
    scope_type: Annotated[str, Path(min_length=1, max_length=32)],
    scope_id: Annotated[str, Path(min_length=1, max_length=200)],
    caller: CallerDep,
) -> FastJSONResponse:
    scope = Scope(_parse_scope_type(scope_type, field="scope_type"), scope_id)
    caller.check_sees(scope.type, scope.id, field="scope_id")
    state = caller.state
    now = state.now()

    def read(conn: Connection) -> dict[str, Any]:
        try:
            check_scope_exists(conn, scope, field="scope_id")
        except InvalidInput as error:
            raise NotFound(error.message, field="scope_id") from None
        stored = budgets_repo.list_budgets(conn, [scope])
        reports, states = statuses(conn, stored, now)
        overrides = overrides_repo.active_overrides(conn, [s.spec.id for s in states], now)
        summary = scope_status(states, now=now, overrides=overrides)
        return {
            "scope": {"type": scope.type.value, "id": scope.id},
            "budgets": reports,
            "aggregateStatus": summary.aggregate_status.value,
            "costRestrictions": restrictions_json(summary.cost_restrictions),
            "asOf": now.isoformat(),
        }

    return FastJSONResponse(state.database.read(read))
