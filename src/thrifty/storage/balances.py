"""Balances: one row per budget and period window with posted and held amounts.

The hold check reads and locks these rows; status reads them without a lock. Nothing here
scans usage records. Period turnover (the first touch of a new window) carries unused budget
over when the budget says so, and is recorded as an alert event and in the audit log.
Statements on the hot path are driver-level ``Sql`` (see ``sql.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from thrifty.budgets.model import BudgetSpec, BudgetState
from thrifty.budgets.overrides import Extension, Override, active_extension_nano
from thrifty.budgets.periods import Window, carry_over, period_window
from thrifty.budgets.thresholds import thresholds_crossed
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.schema import alert_events, budget_balances
from thrifty.storage.sql import Sql, cached, items, pairs, read_json, read_time, stored_time

HELD = "held"
Key = tuple[str, int]

_PREVIOUS = Sql(
    "SELECT window_index, posted_nano FROM budget_balances"
    " WHERE budget_id = :budget_id AND window_index < :window"
    " ORDER BY window_index DESC LIMIT 1"
)
_ENTRIES_TOTAL = Sql(
    "SELECT COALESCE(SUM(amount_nano), 0) FROM ledger_entries"
    " WHERE budget_id = :budget_id AND window_index = :window"
)


def insert_ignore(conn: Connection, table: Any, values: dict[str, Any], keys: list[str]) -> bool:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(table.c[keys[0]])
    )
    # RETURNING, not rowcount: psycopg reports -1 rows for a statement it pipelined.
    return conn.execute(statement).first() is not None


def _create_balance(conn: Connection, spec: BudgetSpec, window: Window, now: datetime) -> None:
    """The first row of a window; carries over from the window before when it exists."""
    previous = _PREVIOUS(conn, {"budget_id": spec.id, "window": window.index}).first()
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


def _rows(conn: Connection, keys: Sequence[Key], *, lock: bool) -> dict[str, Any]:
    if not keys:
        return {}
    placeholders, params = pairs("k", keys)
    tail = " FOR UPDATE" if lock and conn.dialect.name == "postgresql" else ""
    query = cached(
        "SELECT budget_id, posted_nano, held_nano, carried_nano FROM budget_balances"  # noqa: S608
        f" WHERE (budget_id, window_index) IN {placeholders} ORDER BY budget_id{tail}"
    )
    return {row.budget_id: row for row in query(conn, params)}


def expired_held(conn: Connection, keys: Sequence[Key], now: datetime) -> dict[str, int]:
    """Amounts still counted in ``held_nano`` by holds that have already expired."""
    if not keys:
        return {}
    placeholders, params = pairs("k", keys)
    query = cached(
        "SELECT l.budget_id, SUM(l.amount_nano) AS total FROM hold_lines l"  # noqa: S608
        " JOIN holds h ON h.request_id = l.request_id"
        " WHERE h.status = 'held' AND h.expires_at <= :now"
        f" AND (l.budget_id, l.window_index) IN {placeholders} GROUP BY l.budget_id"
    )
    rows = query(conn, params | {"now": stored_time(conn, now)})
    return {row.budget_id: int(row.total) for row in rows}


def active_extensions(
    conn: Connection, budget_ids: Sequence[str], now: datetime
) -> list[Extension]:
    if not budget_ids:
        return []
    placeholders, params = items("b", budget_ids)
    query = cached(
        "SELECT id, budget_id, amount_nano, starts_at, expires_at FROM extensions"  # noqa: S608
        f" WHERE budget_id IN {placeholders} AND starts_at <= :now AND expires_at > :now"
    )
    return [
        Extension(
            row.id,
            row.budget_id,
            row.amount_nano,
            read_time(row.starts_at),
            read_time(row.expires_at),
        )
        for row in query(conn, params | {"now": stored_time(conn, now)})
    ]


def active_overrides(conn: Connection, budget_ids: Sequence[str], now: datetime) -> list[Override]:
    """Approved, unexpired overrides on ``budget_ids``."""
    if not budget_ids:
        return []
    placeholders, params = items("b", budget_ids)
    query = cached(
        "SELECT id, budget_id, amount_nano, expires_at, models, consumed_nano"  # noqa: S608
        f" FROM overrides WHERE budget_id IN {placeholders}"
        " AND status = 'approved' AND expires_at > :now"
    )
    found = []
    for row in query(conn, params | {"now": stored_time(conn, now)}):
        models = read_json(row.models)
        found.append(
            Override(
                id=row.id,
                budget_id=row.budget_id,
                amount_nano=row.amount_nano,
                expires_at=read_time(row.expires_at),  # type: ignore[arg-type]
                approved=True,
                models=frozenset(models) if models is not None else None,
                consumed_nano=row.consumed_nano,
            )
        )
    return found


def _states(
    conn: Connection, specs: Sequence[BudgetSpec], now: datetime, *, lock: bool
) -> list[BudgetState]:
    windows = {spec.id: period_window(spec.period, now) for spec in specs}
    live = [(spec, window) for spec in specs if (window := windows[spec.id]) is not None]
    keys = [(spec.id, window.index) for spec, window in live]
    rows = _rows(conn, keys, lock=lock)
    if lock and len(rows) < len(keys):
        for spec, window in live:
            if spec.id not in rows:
                _create_balance(conn, spec, window, now)
        rows = _rows(conn, keys, lock=True)
    expired = expired_held(conn, keys, now)
    extensions = active_extensions(conn, [spec.id for spec, _ in live], now)
    states = []
    for spec, window in live:
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
    """Like ``budget_states``, creating missing rows and locking them until the transaction
    ends (on SQLite the write transaction already holds the database's write lock)."""
    return _states(conn, specs, now, lock=True)


def lock_rows(conn: Connection, keys: Sequence[Key]) -> None:
    """Lock balance rows (budget id, window index) in budget-id order."""
    _rows(conn, sorted(keys), lock=True)


def move(
    conn: Connection,
    keys: Sequence[Key],
    posted: int,
    held: int,
    now: datetime,
    *,
    locked: bool = False,
) -> None:
    """Add ``posted`` and ``held`` (either may be negative) to each row of ``keys``.
    ``locked``: this transaction already holds the rows' locks."""
    if not keys:
        return
    if conn.dialect.name == "postgresql" and not locked:
        # Lock in budget-id order first, as holds do: an UPDATE alone locks in scan order,
        # and two orders on the same rows can deadlock.
        lock_rows(conn, keys)
    placeholders, params = pairs("k", sorted(keys))
    query = cached(
        "UPDATE budget_balances SET posted_nano = posted_nano + :posted,"  # noqa: S608
        " held_nano = held_nano + :held, updated_at = :now"
        f" WHERE (budget_id, window_index) IN {placeholders}"
    )
    query(conn, params | {"posted": posted, "held": held, "now": stored_time(conn, now)})


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
        percent = format(threshold.percent, "f")
        payload = {
            "percent": percent,
            "actions": [a.value for a in threshold.actions],
            "used_nano": after,
            "limit_nano": limit,
        }
        kind = "exhausted" if threshold.percent >= 100 else "threshold"
        if record_alert(conn, state.spec.id, state.window.index, kind, percent, payload, now):
            record_audit(
                conn,
                actor="system",
                action="budget.threshold_crossed",
                target_type="budget",
                target_id=state.spec.id,
                details=payload | {"window_index": state.window.index},
                at=now,
            )


def spend_from_entries(conn: Connection, budget_id: str, window_index: int) -> int:
    """The budget's spend recomputed from its ledger entries (for checks and reconciliation)."""
    total = _ENTRIES_TOTAL(conn, {"budget_id": budget_id, "window": window_index}).scalar()
    return int(total or 0)
