"""Helpers for ledger tests: budgets inserted directly through the repository."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from thrifty.budgets.model import BudgetSpec, Mode, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind
from thrifty.storage import budgets_repo
from thrifty.storage.database import Database
from thrifty.storage.ledger import Charge

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
TEAM = Scope(ScopeType.TEAM, "eng")
ORG = Scope(ScopeType.ORGANIZATION, "acme")
USER = Scope(ScopeType.USER, "ann")
USD = 1_000_000_000


def add_budget(
    database: Database,
    budget_id: str,
    scope: Scope,
    limit_nano: int,
    *,
    mode: Mode = Mode.HARD,
    kind: PeriodKind = PeriodKind.MONTHLY,
    models: frozenset[str] | None = None,
    thresholds: tuple = (),
) -> BudgetSpec:
    kwargs = {"thresholds": thresholds} if thresholds is not None else {}
    spec = BudgetSpec(
        id=budget_id,
        scope=scope,
        limit_nano=limit_nano,
        period=Period(kind, date(2026, 1, 1), "UTC"),
        mode=mode,
        models=models,
        **kwargs,
    )
    database.write(lambda conn: budgets_repo.insert_budget(conn, spec, budget_id, NOW))
    return spec


def charge(
    request_id: str,
    amount_nano: int,
    *,
    scopes: tuple[Scope, ...] = (USER, TEAM, ORG),
    ttl: timedelta = timedelta(minutes=5),
    now: datetime = NOW,
    **extra: object,
) -> Charge:
    return Charge(
        request_id=request_id,
        scopes=scopes,
        amount_nano=amount_nano,
        expires_at=now + ttl,
        user_id="ann",
        team_id="eng",
        org_id="acme",
        **extra,  # type: ignore[arg-type]
    )
