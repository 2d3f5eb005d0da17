"""Reading the alert events the ledger records (thresholds crossed, exhaustion, turnover).

The ledger writes ``alert_events`` (once per budget, window, kind and threshold); this module
only reads them for the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from thrifty.storage.schema import alert_events
from thrifty.storage.sql import Sql, read_json, read_time


@dataclass(frozen=True, slots=True)
class AlertEvent:
    id: int
    budget_id: str
    window_index: int
    kind: str  # threshold | exhausted | turnover | …
    threshold: str | None  # the percent as text; None when the kind has none
    payload: dict[str, Any]
    created_at: datetime
    acknowledged_at: datetime | None


def _event(row: Any) -> AlertEvent:
    return AlertEvent(
        id=row.id,
        budget_id=row.budget_id,
        window_index=row.window_index,
        kind=row.kind,
        threshold=row.threshold or None,
        payload=dict(row.payload or {}),
        created_at=row.created_at,
        acknowledged_at=row.acknowledged_at,
    )


def list_alerts(
    conn: Connection,
    *,
    budget_ids: Sequence[str] | None = None,
    since: datetime | None = None,
    kind: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AlertEvent]:
    """Alert events, newest first; ``before_id`` pages backwards."""
    query = select(alert_events).order_by(alert_events.c.id.desc()).limit(limit)
    if budget_ids is not None:
        if not budget_ids:
            return []
        query = query.where(alert_events.c.budget_id.in_(list(budget_ids)))
    if since is not None:
        query = query.where(alert_events.c.created_at >= since)
    if kind is not None:
        query = query.where(alert_events.c.kind == kind)
    if before_id is not None:
        query = query.where(alert_events.c.id < before_id)
    return [_event(row) for row in conn.execute(query)]


def active_alerts(conn: Connection, budget_id: str, window_index: int) -> list[AlertEvent]:
    """The unacknowledged alert events of ``budget_id``'s window ``window_index``, oldest first
    (on the status hot path: one driver-level query)."""
    rows = _ACTIVE(conn, {"budget_id": budget_id, "window_index": window_index})
    return [
        AlertEvent(
            id=row.id,
            budget_id=row.budget_id,
            window_index=row.window_index,
            kind=row.kind,
            threshold=row.threshold or None,
            payload=dict(read_json(row.payload) or {}),
            created_at=read_time(row.created_at),  # type: ignore[arg-type]
            acknowledged_at=None,
        )
        for row in rows
    ]


_ACTIVE = Sql(
    "SELECT id, budget_id, window_index, kind, threshold, payload, created_at FROM alert_events"
    " WHERE budget_id = :budget_id AND window_index = :window_index"
    " AND acknowledged_at IS NULL ORDER BY id"
)
