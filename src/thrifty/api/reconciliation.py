"""Invoice reconciliation: ``/api/v1/reconciliation[/{id}[/adjustments]]`` (admin key).

A provider's usage or cost export (CSV: OpenAI's, Anthropic's or the generic layout, see
docs/reconciliation.md) is matched with the ledger's daily sums by day, model and, when
``account_by`` says how, account; the report names each discrepancy with its size and is
stored. Its proposed adjustments are posted only when asked (``post_adjustments`` here, or
``POST …/{id}/adjustments`` later): as separate, audited ledger entries, once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from thrifty.api.budget_schemas import ScopeBody
from thrifty.api.cost_analysis import caught_up
from thrifty.api.responses import FastJSONResponse
from thrifty.api.state import AppState, require_admin
from thrifty.budgets.model import Scope, parse_scope_type
from thrifty.budgets.money import settlement_nano
from thrifty.reconcile.match import Tolerance
from thrifty.storage import reconcile_repo
from thrifty.storage.reconcile_repo import Options

Admin = Annotated[AppState, Depends(require_admin)]
router = APIRouter(prefix="/api/v1", tags=["reconciliation"])
ACTOR = "admin"
Ratio = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class ToleranceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cost: Annotated[Decimal, Field(ge=0, le=1_000_000, allow_inf_nan=False)] = Decimal("0.01")
    cost_ratio: Ratio = Decimal("0.01")
    tokens: Annotated[int, Field(ge=0)] = 0
    tokens_ratio: Ratio = Decimal("0.01")


class ReconcileBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    invoice: Annotated[str, Field(min_length=1, max_length=50_000_000)]
    layout: Literal["auto", "openai", "anthropic", "generic"] = "auto"
    account_by: Literal["key", "user", "team", "org", "provider"] | None = None
    accounts: dict[Name, Name] = Field(default_factory=dict)
    account_column: Name | None = None
    model_names: dict[Name, Name] = Field(default_factory=dict)
    provider: Name | None = None
    tolerance: ToleranceBody = Field(default_factory=ToleranceBody)
    adjust_to: ScopeBody | None = None
    post_adjustments: bool = False


def options_of(body: ReconcileBody) -> Options:
    t = body.tolerance
    adjust_to = None
    if body.adjust_to is not None:
        scope_type = parse_scope_type(body.adjust_to.type, field="adjust_to.type")
        adjust_to = Scope(scope_type, body.adjust_to.id)
    return Options(
        layout=body.layout,
        account_by=body.account_by,
        accounts=body.accounts,
        account_column=body.account_column,
        model_names=body.model_names,
        provider=body.provider,
        adjust_to=adjust_to,
        tolerance=Tolerance(settlement_nano(t.cost), t.cost_ratio, t.tokens, t.tokens_ratio),
    )


@router.post(
    "/reconciliation",
    status_code=201,
    summary="Match a provider's usage or invoice export with the ledger",
)
async def create_reconciliation(body: ReconcileBody, state: Admin) -> FastJSONResponse:
    options = options_of(body)
    await caught_up(state.database)
    now = state.now()
    registry = state.registry.get()
    facts = state.directory.get().facts

    def write(conn: Connection) -> dict[str, Any]:
        done = reconcile_repo.run(
            conn, body.invoice, options, registry=registry, now=now, actor=ACTOR
        )
        if body.post_adjustments:
            done = reconcile_repo.post_adjustments(
                conn, done["id"], facts=facts, now=now, actor=ACTOR
            )
        return done

    return FastJSONResponse(await state.database.awrite(write), status_code=201)


@router.get("/reconciliation", summary="Recent reconciliations, newest first (their totals)")
def list_reconciliations(
    state: Admin, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> FastJSONResponse:
    found = state.database.read(lambda conn: reconcile_repo.list_recent(conn, limit))
    return FastJSONResponse({"reconciliations": found})


ReconciliationId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/reconciliation/{reconciliation_id}", summary="One reconciliation and its report")
def get_reconciliation(reconciliation_id: ReconciliationId, state: Admin) -> FastJSONResponse:
    return FastJSONResponse(
        state.database.read(lambda conn: reconcile_repo.get(conn, reconciliation_id))
    )


@router.post(
    "/reconciliation/{reconciliation_id}/adjustments",
    summary="Post a reconciliation's proposed adjustments as audited ledger entries",
)
def post_adjustments(reconciliation_id: ReconciliationId, state: Admin) -> FastJSONResponse:
    now = state.now()
    facts = state.directory.get().facts
    done = state.database.write(
        lambda conn: reconcile_repo.post_adjustments(
            conn, reconciliation_id, facts=facts, now=now, actor=ACTOR
        )
    )
    return FastJSONResponse(done)
