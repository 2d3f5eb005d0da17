"""Batches of usage records and of day sums for exports, in id order (keyset pages)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from thrifty.storage.rollups import DIMENSIONS, TAG_DIMENSIONS, Scope, scope_conditions
from thrifty.storage.schema import usage_records, usage_rollups, usage_tag_rollups
from thrifty.storage.sql import read_time


def records(
    conn: Connection, scope: Scope, start: datetime, end: datetime, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Usage records created in ``[start, end)`` after id ``after``; the last id read (None
    when there were no more)."""
    table = usage_records
    query = select(table).where(
        table.c.id > after,
        table.c.created_at >= start.astimezone(UTC),
        table.c.created_at < end.astimezone(UTC),
        *scope_conditions(table, scope, DIMENSIONS),
    )
    query = query.order_by(table.c.id).limit(limit)
    rows = [dict(row._mapping) for row in conn.execute(query)]
    if not rows:
        return [], None
    last = int(rows[-1]["id"])
    found = []
    for row in rows:
        row["created_at"] = read_time(row["created_at"])
        tags = json.loads(row["tags"]) if isinstance(row["tags"], str) else row["tags"]
        if scope.tag is None or scope.tag in (tags or ()):
            row["tags"] = tags
            found.append(row)
    return found, last


def day_sums(
    conn: Connection, scope: Scope, start: datetime, end: datetime, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Day sums of ``[start, end)`` (whole UTC days) after id ``after``, every attribution
    present (those of the tag sums only, when ``scope`` names a tag)."""
    tagged = scope.tag is not None
    table = usage_tag_rollups if tagged else usage_rollups
    names = TAG_DIMENSIONS if tagged else DIMENSIONS
    query = select(table).where(
        table.c.grain == "day",
        table.c.id > after,
        table.c.bucket >= start.astimezone(UTC),
        table.c.bucket < end.astimezone(UTC),
        *scope_conditions(table, scope, names),
    )
    query = query.order_by(table.c.id).limit(limit)
    rows = [dict(row._mapping) for row in conn.execute(query)]
    if not rows:
        return [], None
    for row in rows:
        row["bucket"] = read_time(row["bucket"])
        for name in DIMENSIONS:
            row.setdefault(name, "")
    return rows, int(rows[-1]["id"])
