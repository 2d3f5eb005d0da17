"""The audit log: who did what to which budget, key or setting, written in the same
transaction as the change it records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from thrifty.storage.schema import audit_log


def record_audit(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: Mapping[str, Any] | None = None,
    at: datetime,
) -> None:
    conn.execute(
        insert(audit_log).values(
            at=at,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=dict(details or {}),
        )
    )


def list_audit(
    conn: Connection,
    *,
    target_type: str | None = None,
    target_ids: Sequence[str] | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Newest first; ``before_id`` pages backwards."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if target_type is not None:
        query = query.where(audit_log.c.target_type == target_type)
    if target_ids is not None:
        query = query.where(audit_log.c.target_id.in_(list(target_ids)))
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at < until)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    return [
        {
            "id": row.id,
            "at": row.at.isoformat(),
            "actor": row.actor,
            "action": row.action,
            "target_type": row.target_type,
            "target_id": row.target_id,
            "details": row.details,
        }
        for row in conn.execute(query)
    ]
