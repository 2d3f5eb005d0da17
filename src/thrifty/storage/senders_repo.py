"""Inbound webhook senders and the events they sent (each once, by the sender's event id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from thrifty.errors import Conflict, NotFound
from thrifty.storage.balances import insert_ignore
from thrifty.storage.schema import inbound_events, webhook_senders

KINDS = ("cost-data", "budget-alert", "model-cost-update")


@dataclass(frozen=True, slots=True)
class Sender:
    id: str
    name: str
    secret: str
    kinds: frozenset[str]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


def _sender(row: Any) -> Sender:
    return Sender(row.id, row.name, row.secret, frozenset(row.kinds), row.created_by,
                  row.created_at, row.revoked_at)  # fmt: skip


def insert_sender(conn: Connection, sender: Sender) -> Sender:
    values = {"id": sender.id, "name": sender.name, "secret": sender.secret,
              "kinds": sorted(sender.kinds), "created_by": sender.created_by,
              "created_at": sender.created_at}  # fmt: skip
    if not insert_ignore(conn, webhook_senders, values, ["id"]):
        raise Conflict(f"webhook sender {sender.id!r} exists", field="id")
    return get_sender(conn, sender.id)


def get_sender(conn: Connection, sender_id: str) -> Sender:
    row = conn.execute(select(webhook_senders).where(webhook_senders.c.id == sender_id)).first()
    if row is None:
        raise NotFound(f"webhook sender {sender_id!r} does not exist", field="sender_id")
    return _sender(row)


def list_senders(conn: Connection) -> list[Sender]:
    query = select(webhook_senders).order_by(webhook_senders.c.id)
    return [_sender(row) for row in conn.execute(query)]


def revoke_sender(conn: Connection, sender_id: str, now: datetime) -> Sender:
    get_sender(conn, sender_id)
    conn.execute(
        update(webhook_senders)
        .where(webhook_senders.c.id == sender_id, webhook_senders.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return get_sender(conn, sender_id)


def claim_event(
    conn: Connection, sender_id: str, event_id: str, kind: str, now: datetime
) -> dict[str, Any] | None:
    """Take an event id for processing in this transaction: None when it is new; what it did
    the first time when it was seen before (a concurrent first delivery of the same id waits
    on PostgreSQL until that one commits)."""
    values = {"sender_id": sender_id, "event_id": event_id, "kind": kind, "received_at": now,
              "result": {}}  # fmt: skip
    if insert_ignore(conn, inbound_events, values, ["sender_id", "event_id"]):
        return None
    row = conn.execute(
        select(inbound_events.c.result, inbound_events.c.kind).where(
            inbound_events.c.sender_id == sender_id, inbound_events.c.event_id == event_id
        )
    ).one()
    if row.kind != kind:
        raise Conflict(
            f"event {event_id!r} of sender {sender_id!r} was a {row.kind} event", field="id"
        )
    return dict(row.result)


def store_result(conn: Connection, sender_id: str, event_id: str, result: dict[str, Any]) -> None:
    conn.execute(
        update(inbound_events)
        .where(inbound_events.c.sender_id == sender_id, inbound_events.c.event_id == event_id)
        .values(result=result)
    )
