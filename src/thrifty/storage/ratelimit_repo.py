"""Rate limits (``rate_limits``) and their per-minute counters in the database (``rate_counters``).

Limits change rarely and are read from a process cache (``RATE_LIMITS`` is its version row).
Counters change on every limited request: :func:`add_to_window` is one upsert that adds a
request to every limited scope of a chain and returns the new totals, holding the rows' locks
until the transaction ends, so the caller checks the limits and commits (or rolls back) in the
same write transaction. On SQLite the write transaction is ``BEGIN IMMEDIATE`` and serialized
(``database.Database``); on PostgreSQL the upsert's row locks serialize writers of one scope,
and rows are always written in the same order so that two chains cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from thrifty.budgets.model import Scope, ScopeType
from thrifty.errors import Conflict, NotFound
from thrifty.storage.cache import bump_version
from thrifty.storage.schema import rate_counters, rate_limits
from thrifty.storage.sql import Sql, cached, stored_time

#: The cache version row of the limits.
RATE_LIMITS = "rate_limits"


@dataclass(frozen=True, slots=True)
class RateLimit:
    id: str
    scope: Scope
    requests_per_minute: int | None
    tokens_per_minute: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WindowCount:
    """What one scope admitted in one minute."""

    requests: int = 0
    tokens: int = 0


def _limit(row: Any) -> RateLimit:
    return RateLimit(
        id=row.id,
        scope=Scope(ScopeType(row.scope_type), row.scope_id),
        requests_per_minute=row.requests_per_minute,
        tokens_per_minute=row.tokens_per_minute,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# --- limits --------------------------------------------------------------------------------


def list_limits(conn: Connection, scope: Scope | None = None) -> list[RateLimit]:
    query = select(rate_limits).order_by(rate_limits.c.scope_type, rate_limits.c.scope_id)
    if scope is not None:
        query = query.where(
            rate_limits.c.scope_type == scope.type.value, rate_limits.c.scope_id == scope.id
        )
    return [_limit(row) for row in conn.execute(query)]


def load_limits(conn: Connection) -> dict[Scope, RateLimit]:
    """Every limit by its scope: the snapshot the gateway checks requests against."""
    return {limit.scope: limit for limit in list_limits(conn)}


def get_limit(conn: Connection, limit_id: str) -> RateLimit:
    row = conn.execute(select(rate_limits).where(rate_limits.c.id == limit_id)).first()
    if row is None:
        raise NotFound(f"rate limit {limit_id!r} does not exist", field="limit_id")
    return _limit(row)


def _check_scope_free(conn: Connection, scope: Scope, limit_id: str) -> None:
    query = select(rate_limits.c.id).where(
        rate_limits.c.scope_type == scope.type.value,
        rate_limits.c.scope_id == scope.id,
        rate_limits.c.id != limit_id,
    )
    other = conn.execute(query).scalar()
    if other is not None:
        raise Conflict(f"{scope} already has rate limit {other!r}; change that one", field="scope")


def insert_limit(
    conn: Connection,
    limit_id: str,
    scope: Scope,
    requests_per_minute: int | None,
    tokens_per_minute: int | None,
    now: datetime,
) -> RateLimit:
    if conn.execute(select(rate_limits.c.id).where(rate_limits.c.id == limit_id)).first():
        raise Conflict(f"rate limit {limit_id!r} already exists", field="id")
    _check_scope_free(conn, scope, limit_id)
    conn.execute(
        insert(rate_limits).values(
            id=limit_id,
            scope_type=scope.type.value,
            scope_id=scope.id,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            created_at=now,
            updated_at=now,
        )
    )
    bump_version(conn, RATE_LIMITS)
    return get_limit(conn, limit_id)


def update_limit(
    conn: Connection,
    limit_id: str,
    scope: Scope,
    requests_per_minute: int | None,
    tokens_per_minute: int | None,
    now: datetime,
) -> RateLimit:
    get_limit(conn, limit_id)
    _check_scope_free(conn, scope, limit_id)
    conn.execute(
        update(rate_limits)
        .where(rate_limits.c.id == limit_id)
        .values(
            scope_type=scope.type.value,
            scope_id=scope.id,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            updated_at=now,
        )
    )
    bump_version(conn, RATE_LIMITS)
    return get_limit(conn, limit_id)


def delete_limit(conn: Connection, limit_id: str) -> RateLimit:
    gone = get_limit(conn, limit_id)
    conn.execute(delete(rate_limits).where(rate_limits.c.id == limit_id))
    bump_version(conn, RATE_LIMITS)
    return gone


# --- counters ------------------------------------------------------------------------------

_UPSERT = """INSERT INTO rate_counters (scope_type, scope_id, window_start, requests, tokens)
VALUES {rows}
ON CONFLICT (scope_type, scope_id, window_start) DO UPDATE SET
  requests = rate_counters.requests + excluded.requests,
  tokens = rate_counters.tokens + excluded.tokens
RETURNING scope_type, scope_id, requests, tokens"""
_READ = """SELECT scope_type, scope_id, requests, tokens FROM rate_counters
WHERE window_start = :window AND scope_id IN ({ids})"""
_ASYNC_COMMIT = Sql("SET LOCAL synchronous_commit TO OFF")
_PRUNE = Sql("DELETE FROM rate_counters WHERE window_start < :before")


def add_to_window(
    conn: Connection, scopes: Sequence[Scope], window_start: datetime, tokens: int
) -> dict[Scope, WindowCount]:
    """Count one request of ``tokens`` on each scope in the minute from ``window_start``;
    the totals after it. The rows stay locked until the transaction ends."""
    if conn.dialect.name == "postgresql":
        # Counters are not money: a crash may forget the last instants of a minute, so this
        # transaction need not wait for its commit to reach the disk.
        _ASYNC_COMMIT(conn)
    ordered = sorted(set(scopes), key=lambda s: (s.type.value, s.id))
    rows = ", ".join(f"(:t{i}, :i{i}, :window, 1, :tokens)" for i in range(len(ordered)))
    params: dict[str, object] = {"window": stored_time(conn, window_start), "tokens": tokens}
    for i, scope in enumerate(ordered):
        params[f"t{i}"] = scope.type.value
        params[f"i{i}"] = scope.id
    result = cached(_UPSERT.format(rows=rows))(conn, params)
    return {
        Scope(ScopeType(kind), scope_id): WindowCount(int(requests), int(spent))
        for kind, scope_id, requests, spent in result
    }


def read_window(
    conn: Connection, scopes: Sequence[Scope], window_start: datetime
) -> dict[Scope, WindowCount]:
    """What each of ``scopes`` admitted in the minute from ``window_start`` (absent: nothing)."""
    wanted = set(scopes)
    ids = sorted({s.id for s in wanted})
    names = ", ".join(f":i{i}" for i in range(len(ids)))
    params: dict[str, object] = {f"i{i}": value for i, value in enumerate(ids)}
    params["window"] = stored_time(conn, window_start)
    found = {}
    for kind, scope_id, requests, spent in cached(_READ.format(ids=names))(conn, params):
        scope = Scope(ScopeType(kind), scope_id)
        if scope in wanted:
            found[scope] = WindowCount(int(requests), int(spent))
    return found


def prune_windows(conn: Connection, before: datetime) -> int:
    """Delete the counters of minutes that started before ``before``."""
    return _PRUNE(conn, {"before": stored_time(conn, before)}).rowcount or 0


def counters(conn: Connection) -> list[tuple[Scope, datetime, WindowCount]]:
    """Every stored counter (for tests and inspection)."""
    rows = conn.execute(select(rate_counters).order_by(rate_counters.c.window_start))
    return [
        (
            Scope(ScopeType(row.scope_type), row.scope_id),
            row.window_start,
            WindowCount(row.requests, row.tokens),
        )
        for row in rows
    ]
