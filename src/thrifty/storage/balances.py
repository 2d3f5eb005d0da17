"""Balances: one row per budget and period window with posted and held amounts.

The hold check reads and locks these rows; status reads them without a lock. Nothing here
scans usage records. Period turnover (the first touch of a new window) carries unused budget
over when the budget says so, and is recorded as an alert event and in the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from thrifty.budgets.model import BudgetSpec, BudgetState
from thrifty.budgets.overrides import active_extension_nano
from thrifty.budgets.periods import Window, carry_over, period_window
from thrifty.budgets.thresholds import thresholds_crossed
from thrifty.storage import overrides_repo
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.schema import alert_events, budget_balances, hold_lines, holds, ledger_entries

HELD = "held"


def insert_ignore(conn: Connection, table: Any, values: dict[str, Any], keys: list[str]) -> bool:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    return bool(conn.execute(statement).rowcount)


def ensure_balance(conn: Connection, spec: BudgetSpec, window: Window, now: datetime) -> None:
    exists = conn.execute(
        select(budget_balances.c.budget_id).where(
            budget_balances.c.budget_id == spec.id,
            budget_balances.c.window_index == window.index,
        )
    ).first()
    if exists is not None:
        return
    previous = conn.execute(
        select(budget_balances.c.window_index, budget_balances.c.posted_nano)
        .where(
            budget_balances.c.budget_id == spec.id, budget_balances.c.window_index < window.index
        )
        .order_by(budget_balances.c.window_index.desc())
        .limit(1)
    ).first()
    carried = 0
    if previous is not None and previous.window_index == window.index - 1:
        carried = carry_over(spec.limit_nano, previous.posted_nano, spec.carry_over)
    values = {
        "budget_id": spec.id,
        "window_index": window.index,
        "window_start": window.start_utc,
        "window_end": window.end_utc,
        "posted_nano": 0,
        "held_nano": 0,
        "carried_nano": carried,
        "updated_at": now,
    }
    inserted = insert_ignore(conn, budget_balances, values, ["budget_id", "window_index"])
    if inserted and previous is not None:  # a turnover, not the budget's first window
        details = {"window_index": window.index, "window_start": window.start_utc.isoformat()}
        record_alert(
            conn, spec.id, window.index, "turnover", "", details | {"carried": carried}, now
        )
        record_audit(
            conn,
            actor="system",
            action="budget.period_turnover",
            target_type="budget",
            target_id=spec.id,
            details=details,
            at=now,
        )


def expired_held(conn: Connection, keys: list[tuple[str, int]], now: datetime) -> dict[str, int]:
    """Amounts still counted in ``held_nano`` by holds that have already expired."""
    if not keys:
        return {}
    rows = conn.execute(
        select(hold_lines.c.budget_id, func.sum(hold_lines.c.amount_nano))
        .join(holds, holds.c.request_id == hold_lines.c.request_id)
        .where(
            holds.c.status == HELD,
            holds.c.expires_at <= now,
            tuple_(hold_lines.c.budget_id, hold_lines.c.window_index).in_(keys),
        )
        .group_by(hold_lines.c.budget_id)
    )
    return {budget_id: int(total) for budget_id, total in rows}


def _states(
    conn: Connection, specs: Sequence[BudgetSpec], now: datetime, *, lock: bool
) -> list[BudgetState]:
    windows = {spec.id: period_window(spec.period, now) for spec in specs}
    live = [spec for spec in specs if windows[spec.id] is not None]
    keys = [(spec.id, windows[spec.id].index) for spec in live]  # type: ignore[union-attr]
    rows: dict[str, Any] = {}
    if keys:
        query = (
            select(budget_balances)
            .where(tuple_(budget_balances.c.budget_id, budget_balances.c.window_index).in_(keys))
            .order_by(budget_balances.c.budget_id)
        )
        if lock:
            query = query.with_for_update()
        rows = {row.budget_id: row for row in conn.execute(query)}
    expired = expired_held(conn, keys, now)
    extensions = overrides_repo.active_extensions(conn, [s.id for s in live], now)
    states = []
    for spec in live:
        window = windows[spec.id]
        assert window is not None
        row = rows.get(spec.id)
        states.append(
            BudgetState(
                spec=spec,
                window=window,
                now=now,
                posted_nano=row.posted_nano if row else 0,
                held_nano=(row.held_nano if row else 0) - expired.get(spec.id, 0),
                extension_nano=active_extension_nano(extensions, spec.id, now),
                carried_nano=row.carried_nano if row else 0,
            )
        )
    return states


def budget_states(
    conn: Connection, specs: Sequence[BudgetSpec], now: datetime
) -> list[BudgetState]:
    """The state of each budget in its current window: one balance row each, no usage scan."""
    return _states(conn, specs, now, lock=False)


def lock_states(conn: Connection, specs: Sequence[BudgetSpec], now: datetime) -> list[BudgetState]:
    """Like ``budget_states``, with the balance rows locked until the transaction ends."""
    return _states(conn, specs, now, lock=True)


def lock_rows(conn: Connection, keys: Sequence[tuple[str, int]]) -> None:
    """Lock balance rows (budget id, window index) in budget-id order."""
    if keys:
        conn.execute(
            select(budget_balances.c.budget_id)
            .where(tuple_(budget_balances.c.budget_id, budget_balances.c.window_index).in_(keys))
            .order_by(budget_balances.c.budget_id)
            .with_for_update()
        ).all()


def move(
    conn: Connection, budget_id: str, window: int, posted: int, held: int, now: datetime
) -> None:
    """Add ``posted`` and ``held`` (either may be negative) to one balance row."""
    conn.execute(
        update(budget_balances)
        .where(budget_balances.c.budget_id == budget_id, budget_balances.c.window_index == window)
        .values(
            posted_nano=budget_balances.c.posted_nano + posted,
            held_nano=budget_balances.c.held_nano + held,
            updated_at=now,
        )
    )


# --- alerts --------------------------------------------------------------------------------


def record_alert(
    conn: Connection,
    budget_id: str,
    window_index: int,
    kind: str,
    threshold: str,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """One alert event per (budget, window, kind, threshold): repeats are ignored."""
    values = {
        "budget_id": budget_id,
        "window_index": window_index,
        "kind": kind,
        "threshold": threshold,
        "payload": payload,
        "created_at": now,
    }
    keys = ["budget_id", "window_index", "kind", "threshold"]
    return insert_ignore(conn, alert_events, values, keys)


def alert_crossings(conn: Connection, state: BudgetState, added_nano: int, now: datetime) -> None:
    before = state.used_nano
    after = before + added_nano
    limit = state.limit_nano
    for threshold in thresholds_crossed(state.spec, before, after, limit_nano=limit):
        payload = {
            "percent": format(threshold.percent, "f"),
            "actions": [a.value for a in threshold.actions],
            "used_nano": after,
            "limit_nano": limit,
        }
        kind = "exhausted" if threshold.percent >= 100 else "threshold"
        record_alert(
            conn,
            state.spec.id,
            state.window.index,
            kind,
            format(threshold.percent, "f"),
            payload,
            now,
        )


def spend_from_entries(conn: Connection, budget_id: str, window_index: int) -> int:
    """The budget's spend recomputed from its ledger entries (for checks and reconciliation)."""
    total = conn.execute(
        select(func.coalesce(func.sum(ledger_entries.c.amount_nano), 0)).where(
            and_(
                ledger_entries.c.budget_id == budget_id,
                ledger_entries.c.window_index == window_index,
            )
        )
    ).scalar()
    return int(total or 0)
