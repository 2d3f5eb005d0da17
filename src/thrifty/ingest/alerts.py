"""``budget-alert``: alerts raised elsewhere (a provider's billing alert, another gateway),
recorded as ``external`` alert events: shown by ``GET /api/v1/alerts`` and forwarded to the
alert channels that hear them. Each is recorded once per budget it names."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from thrifty.budgets.model import Scope, parse_scope_type
from thrifty.errors import InvalidInput
from thrifty.notify.upstream import NO_BUDGET
from thrifty.storage import balances, budgets_repo

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class ScopeRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Annotated[str, Field(description="organization | team | user | key | tag")]
    id: Annotated[str, Field(min_length=1, max_length=200)]


class BudgetAlertBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Annotated[str, Field(min_length=1, max_length=200)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    message: Text | None = None
    severity: Literal["info", "warning", "critical"] = "warning"
    source: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    budget_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    scope: ScopeRef | None = None
    details: dict[str, Any] = Field(default_factory=dict)


def _budget_ids(conn: Connection, body: BudgetAlertBody) -> list[str]:
    if body.budget_id is not None and body.scope is not None:
        raise InvalidInput("give budget_id or scope, not both", field="scope")
    if body.budget_id is not None:
        return [budgets_repo.get_budget(conn, body.budget_id).spec.id]
    if body.scope is None:
        return [NO_BUDGET]
    scope = Scope(parse_scope_type(body.scope.type, field="scope.type"), body.scope.id)
    found = [b.spec.id for b in budgets_repo.list_budgets(conn, [scope])]
    if not found:
        raise InvalidInput(f"no budget governs {scope}", field="scope")
    return found


def record_alert(
    conn: Connection, body: BudgetAlertBody, *, sender_id: str, now: datetime
) -> dict[str, Any]:
    key = hashlib.blake2b(f"{sender_id}\x00{body.id}".encode(), digest_size=16).hexdigest()
    payload = {"title": body.title, "message": body.message, "severity": body.severity,
               "source": body.source or sender_id, "sender": sender_id, "event_id": body.id,
               "details": body.details}  # fmt: skip
    budgets = _budget_ids(conn, body)
    for budget_id in budgets:
        balances.record_alert(conn, budget_id, 0, "external", key, payload, now)
    return {"budgets": [b or None for b in budgets]}
