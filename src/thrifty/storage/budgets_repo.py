"""Persistence of budget specifications (the ledger's amounts live in ``ledger.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from thrifty.budgets.model import BudgetSpec, Mode, Scope, ScopeType
from thrifty.budgets.periods import CarryOverPolicy, Period, PeriodKind
from thrifty.budgets.thresholds import Action, Threshold
from thrifty.errors import NotFound
from thrifty.storage.schema import budgets
from thrifty.storage.sql import Sql, read_json, read_time


@dataclass(frozen=True, slots=True)
class StoredBudget:
    spec: BudgetSpec
    name: str
    created_at: datetime
    updated_at: datetime


def thresholds_json(thresholds: Sequence[Threshold]) -> list[dict[str, Any]]:
    return [
        {"percent": format(t.percent, "f"), "actions": [a.value for a in t.actions]}
        for t in thresholds
    ]


def _thresholds(raw: list[dict[str, Any]]) -> tuple[Threshold, ...]:
    return tuple(
        Threshold(Decimal(item["percent"]), tuple(Action(a) for a in item["actions"]))
        for item in raw
    )


def _spec(row: Any) -> BudgetSpec:
    period = Period(
        kind=PeriodKind(row.period_kind),
        start=date.fromisoformat(row.period_start),
        timezone=row.timezone,
        end=date.fromisoformat(row.period_end) if row.period_end else None,
    )
    return BudgetSpec(
        id=row.id,
        scope=Scope(ScopeType(row.scope_type), row.scope_id),
        limit_nano=row.limit_nano,
        period=period,
        mode=Mode(row.mode),
        models=frozenset(row.models) if row.models is not None else None,
        thresholds=_thresholds(row.thresholds),
        carry_over=CarryOverPolicy(bool(row.carry_over), row.carry_over_cap_nano),
    )


def _stored(row: Any) -> StoredBudget:
    return StoredBudget(_spec(row), row.name, row.created_at, row.updated_at)


def _values(spec: BudgetSpec, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "scope_type": spec.scope.type.value,
        "scope_id": spec.scope.id,
        "limit_nano": spec.limit_nano,
        "period_kind": spec.period.kind.value,
        "period_start": spec.period.start.isoformat(),
        "period_end": spec.period.end.isoformat() if spec.period.end else None,
        "timezone": spec.period.timezone,
        "mode": spec.mode.value,
        "models": sorted(spec.models) if spec.models is not None else None,
        "thresholds": thresholds_json(spec.thresholds),
        "carry_over": int(spec.carry_over.enabled),
        "carry_over_cap_nano": spec.carry_over.cap_nano,
    }


def insert_budget(conn: Connection, spec: BudgetSpec, name: str, now: datetime) -> None:
    conn.execute(
        insert(budgets).values(id=spec.id, created_at=now, updated_at=now, **_values(spec, name))
    )


def update_budget(conn: Connection, spec: BudgetSpec, name: str, now: datetime) -> None:
    result = conn.execute(
        update(budgets)
        .where(budgets.c.id == spec.id, budgets.c.deleted_at.is_(None))
        .values(updated_at=now, **_values(spec, name))
    )
    if result.rowcount == 0:
        raise NotFound(f"budget {spec.id!r} does not exist", field="budget_id")


def delete_budget(conn: Connection, budget_id: str, now: datetime) -> None:
    """Soft delete: the ledger keeps its entries; the budget stops applying."""
    result = conn.execute(
        update(budgets)
        .where(budgets.c.id == budget_id, budgets.c.deleted_at.is_(None))
        .values(deleted_at=now, updated_at=now)
    )
    if result.rowcount == 0:
        raise NotFound(f"budget {budget_id!r} does not exist", field="budget_id")


def get_budget(conn: Connection, budget_id: str) -> StoredBudget:
    """A live budget (on the status hot path: one driver-level query, memoized spec)."""
    row = _GET_BUDGET(conn, {"id": budget_id}).first()
    if row is None:
        raise NotFound(f"budget {budget_id!r} does not exist", field="budget_id")
    created, updated = read_time(row.created_at), read_time(row.updated_at)
    assert created is not None and updated is not None
    return StoredBudget(_memoized_spec(row), row.name, created, updated)


_GET_BUDGET = Sql("SELECT * FROM budgets WHERE id = :id AND deleted_at IS NULL")


def list_budgets(conn: Connection, scopes: Sequence[Scope] | None = None) -> list[StoredBudget]:
    """Live budgets, all of them or those of ``scopes``, ordered by id."""
    query = select(budgets).where(budgets.c.deleted_at.is_(None)).order_by(budgets.c.id)
    if scopes is not None:
        if not scopes:
            return []
        query = query.where(
            or_(
                *(
                    and_(budgets.c.scope_type == s.type.value, budgets.c.scope_id == s.id)
                    for s in scopes
                )
            )
        )
    return [_stored(row) for row in conn.execute(query)]


def specs_for_scopes(conn: Connection, scopes: Sequence[Scope]) -> list[BudgetSpec]:
    """The live budgets of ``scopes`` (hot path: one driver-level query; parsed specs are
    memoized by their row's full content)."""
    if not scopes:
        return []
    condition = " OR ".join(
        f"(scope_type = :t{i} AND scope_id = :s{i})" for i in range(len(scopes))
    )
    params: dict[str, Any] = {}
    for i, scope in enumerate(scopes):
        params[f"t{i}"] = scope.type.value
        params[f"s{i}"] = scope.id
    query = _CHAIN_QUERIES.get(len(scopes))
    if query is None:
        query = _CHAIN_QUERIES[len(scopes)] = Sql(
            # Only placeholders are interpolated; values travel as parameters.
            f"SELECT * FROM budgets WHERE deleted_at IS NULL AND ({condition}) ORDER BY id"  # noqa: S608
        )
    return [_memoized_spec(row) for row in query(conn, params)]


def _memoized_spec(row: Any) -> BudgetSpec:
    """The spec of a driver-level budget row, parsed once per distinct row content."""
    key = repr(tuple(row))  # the whole row: a spec is reused only if nothing changed
    spec = _SPECS.get(key)
    if spec is None:
        if len(_SPECS) > 10_000:
            _SPECS.clear()
        fields = dict(row._mapping)
        fields["models"] = read_json(row.models)
        fields["thresholds"] = read_json(row.thresholds)
        spec = _SPECS[key] = _spec(SimpleNamespace(**fields))
    return spec


_CHAIN_QUERIES: dict[int, Sql] = {}
_SPECS: dict[str, BudgetSpec] = {}


def budget_id_taken(conn: Connection, budget_id: str) -> bool:
    """Whether any budget, live or deleted, has ``budget_id`` (ids are never reused)."""
    query = select(budgets.c.id).where(budgets.c.id == budget_id)
    return conn.execute(query).first() is not None
