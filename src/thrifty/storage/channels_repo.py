"""Alert channels and their delivery queue.

Each alert event is fanned out once (``alert_events.fanned_out``) into one ``alert_deliveries``
row per channel that hears it; the unique (channel, event) key makes a second fan-out of the
same event change nothing, so no event is queued twice for a channel. A process sends one
channel's queue at a time under a lease on the channel row, oldest event first, and stops at
the first delivery that is not yet due: later events wait behind a failing one, which keeps
each channel's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, func, or_, select, update

from thrifty.budgets.model import Scope, ScopeType
from thrifty.budgets.principal import DirectoryFacts
from thrifty.errors import NotFound
from thrifty.notify.events import EVENT_TYPES, EventView, hears
from thrifty.storage.balances import insert_ignore
from thrifty.storage.schema import alert_channels, alert_deliveries, alert_events, budgets

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    kind: str  # webhook | slack
    url: str
    secret: str | None
    scope: Scope | None
    events: frozenset[str] | None
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    channel_id: str
    event_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    event_type: str | None = None


def _scope(scope_type: str | None, scope_id: str | None) -> Scope | None:
    if not scope_type or scope_id is None:
        return None
    return Scope(ScopeType(scope_type), scope_id)


def _channel(row: Any) -> Channel:
    return Channel(
        id=row.id, name=row.name, kind=row.kind, url=row.url, secret=row.secret,
        scope=_scope(row.scope_type, row.scope_id),
        events=None if row.events is None else frozenset(row.events),
        enabled=bool(row.enabled), created_by=row.created_by, created_at=row.created_at,
        updated_at=row.updated_at,
    )  # fmt: skip


def _delivery(row: Any) -> Delivery:
    kind = getattr(row, "kind", None)
    return Delivery(
        id=row.id, channel_id=row.channel_id, event_id=row.event_id, status=row.status,
        attempts=row.attempts, next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at, last_status=row.last_status,
        last_error=row.last_error, created_at=row.created_at, delivered_at=row.delivered_at,
        event_type=None if kind is None else EVENT_TYPES.get(kind, f"alert.{kind}"),
    )  # fmt: skip


# --- channels ---------------------------------------------------------------------------------


def insert_channel(conn: Connection, channel: Channel) -> Channel:
    conn.execute(
        alert_channels.insert().values(
            id=channel.id, name=channel.name, kind=channel.kind, url=channel.url,
            secret=channel.secret,
            scope_type=None if channel.scope is None else channel.scope.type.value,
            scope_id=None if channel.scope is None else channel.scope.id,
            events=None if channel.events is None else sorted(channel.events),
            enabled=int(channel.enabled), created_by=channel.created_by,
            created_at=channel.created_at, updated_at=channel.updated_at,
        )
    )  # fmt: skip
    return get_channel(conn, channel.id)


def get_channel(conn: Connection, channel_id: str) -> Channel:
    row = conn.execute(select(alert_channels).where(alert_channels.c.id == channel_id)).first()
    if row is None:
        raise NotFound(f"alert channel {channel_id!r} does not exist", field="channel_id")
    return _channel(row)


def list_channels(conn: Connection) -> list[Channel]:
    return [_channel(r) for r in conn.execute(select(alert_channels).order_by(alert_channels.c.id))]


def update_channel(
    conn: Connection, channel_id: str, values: dict[str, Any], now: datetime
) -> Channel:
    get_channel(conn, channel_id)
    if "events" in values and values["events"] is not None:
        values["events"] = sorted(values["events"])
    if "enabled" in values:
        values["enabled"] = int(values["enabled"])
    conn.execute(
        update(alert_channels).where(alert_channels.c.id == channel_id)
        .values(**values, updated_at=now)
    )  # fmt: skip
    return get_channel(conn, channel_id)


def delete_channel(conn: Connection, channel_id: str) -> None:
    get_channel(conn, channel_id)
    conn.execute(delete(alert_deliveries).where(alert_deliveries.c.channel_id == channel_id))
    conn.execute(delete(alert_channels).where(alert_channels.c.id == channel_id))


# --- fan-out ----------------------------------------------------------------------------------


def _views(conn: Connection, rows: Sequence[Any]) -> list[EventView]:
    ids = sorted({r.budget_id for r in rows if r.budget_id})
    known: dict[str, Any] = {}
    if ids:
        query = select(budgets.c.id, budgets.c.name, budgets.c.scope_type, budgets.c.scope_id)
        known = {b.id: b for b in conn.execute(query.where(budgets.c.id.in_(ids)))}
    views = []
    for r in rows:
        budget = known.get(r.budget_id)
        views.append(EventView(
            id=r.id, kind=r.kind, budget_id=r.budget_id or None,
            budget_name=None if budget is None else budget.name,
            scope=None if budget is None else _scope(budget.scope_type, budget.scope_id),
            payload=dict(r.payload or {}), created_at=r.created_at,
        ))  # fmt: skip
    return views


def event_views(conn: Connection, event_ids: Sequence[int]) -> dict[int, EventView]:
    rows = list(conn.execute(select(alert_events).where(alert_events.c.id.in_(list(event_ids)))))
    return {v.id: v for v in _views(conn, rows)}


def has_unfanned(conn: Connection) -> bool:
    query = select(alert_events.c.id).where(alert_events.c.fanned_out == 0).limit(1)
    return conn.execute(query).first() is not None


def fan_out(conn: Connection, facts: DirectoryFacts, now: datetime, limit: int = 500) -> int:
    """Queue a delivery of each new event to every enabled channel that hears it (channels
    hear events recorded after they were created). Returns how many deliveries were queued."""
    query = (
        select(alert_events).where(alert_events.c.fanned_out == 0)
        .order_by(alert_events.c.id).limit(limit)
    )  # fmt: skip
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(conn.execute(query))
    if not rows:
        return 0
    channels = [c for c in list_channels(conn) if c.enabled]
    queued = 0
    for event in _views(conn, rows):
        for channel in channels:
            if channel.created_at > event.created_at:
                continue
            if not hears(channel.scope, channel.events, event, facts):
                continue
            values = {"channel_id": channel.id, "event_id": event.id, "status": PENDING,
                      "attempts": 0, "next_attempt_at": now, "created_at": now}  # fmt: skip
            queued += insert_ignore(conn, alert_deliveries, values, ["channel_id", "event_id"])
    conn.execute(
        update(alert_events).where(alert_events.c.id.in_([r.id for r in rows])).values(fanned_out=1)
    )
    return queued


# --- sending ----------------------------------------------------------------------------------


def due_channels(conn: Connection, now: datetime) -> list[str]:
    query = (
        select(alert_deliveries.c.channel_id).distinct()
        .join(alert_channels, alert_channels.c.id == alert_deliveries.c.channel_id)
        .where(alert_deliveries.c.status == PENDING, alert_deliveries.c.next_attempt_at <= now,
               alert_channels.c.enabled == 1)  # a disabled channel's queue waits for it
    )  # fmt: skip
    return sorted(r.channel_id for r in conn.execute(query))


def claim(conn: Connection, channel_id: str, owner: str, now: datetime, lease: timedelta) -> bool:
    """Take (or renew) the lease on a channel's queue; False when another process holds it."""
    free = or_(
        alert_channels.c.lease_until.is_(None),
        alert_channels.c.lease_until < now,
        alert_channels.c.lease_owner == owner,
    )
    statement = (
        update(alert_channels).where(alert_channels.c.id == channel_id, free)
        .values(lease_until=now + lease, lease_owner=owner).returning(alert_channels.c.id)
    )  # fmt: skip
    return conn.execute(statement).first() is not None


def release(conn: Connection, channel_id: str, owner: str) -> None:
    conn.execute(
        update(alert_channels)
        .where(alert_channels.c.id == channel_id, alert_channels.c.lease_owner == owner)
        .values(lease_until=None, lease_owner=None)
    )


def head(conn: Connection, channel_id: str) -> Delivery | None:
    """The channel's oldest pending delivery: the only one that may be sent next."""
    query = (
        select(alert_deliveries)
        .where(alert_deliveries.c.channel_id == channel_id, alert_deliveries.c.status == PENDING)
        .order_by(alert_deliveries.c.event_id).limit(1)
    )  # fmt: skip
    row = conn.execute(query).first()
    return None if row is None else _delivery(row)


def record_attempt(
    conn: Connection,
    delivery_id: int,
    *,
    status: str,
    http_status: int | None,
    error: str | None,
    next_attempt_at: datetime,
    now: datetime,
) -> None:
    conn.execute(
        update(alert_deliveries).where(alert_deliveries.c.id == delivery_id).values(
            status=status, attempts=alert_deliveries.c.attempts + 1, last_attempt_at=now,
            last_status=http_status, last_error=None if error is None else error[:500],
            next_attempt_at=next_attempt_at, delivered_at=now if status == DELIVERED else None,
        )
    )  # fmt: skip


# --- the log ----------------------------------------------------------------------------------


def get_delivery(conn: Connection, delivery_id: int) -> Delivery:
    query = (
        select(alert_deliveries, alert_events.c.kind)
        .join(alert_events, alert_events.c.id == alert_deliveries.c.event_id, isouter=True)
        .where(alert_deliveries.c.id == delivery_id)
    )
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"alert delivery {delivery_id} does not exist", field="delivery_id")
    return _delivery(row)


def list_deliveries(
    conn: Connection,
    *,
    channel_ids: Sequence[str] | None = None,
    status: str | None = None,
    event_id: int | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[Delivery]:
    """Deliveries, newest first; ``before_id`` pages backwards."""
    query = (
        select(alert_deliveries, alert_events.c.kind)
        .join(alert_events, alert_events.c.id == alert_deliveries.c.event_id, isouter=True)
        .order_by(alert_deliveries.c.id.desc()).limit(limit)
    )  # fmt: skip
    conditions: list[ColumnElement[bool]] = []
    if channel_ids is not None:
        if not channel_ids:
            return []
        conditions.append(alert_deliveries.c.channel_id.in_(list(channel_ids)))
    if status is not None:
        conditions.append(alert_deliveries.c.status == status)
    if event_id is not None:
        conditions.append(alert_deliveries.c.event_id == event_id)
    if before_id is not None:
        conditions.append(alert_deliveries.c.id < before_id)
    if conditions:
        query = query.where(and_(*conditions))
    return [_delivery(r) for r in conn.execute(query)]


def redeliver(conn: Connection, delivery_id: int, now: datetime) -> Delivery:
    """Queue a delivery again, whatever became of it, to go out as soon as its turn comes."""
    get_delivery(conn, delivery_id)
    conn.execute(
        update(alert_deliveries).where(alert_deliveries.c.id == delivery_id)
        .values(status=PENDING, next_attempt_at=now, delivered_at=None)
    )  # fmt: skip
    return get_delivery(conn, delivery_id)


def counts(conn: Connection) -> dict[str, int]:
    query = select(alert_deliveries.c.status, func.count()).group_by(alert_deliveries.c.status)
    return {status: int(n) for status, n in conn.execute(query)}
