"""Dashboard sessions: opened at sign-in, looked up on every page, closed at sign-out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from thrifty.storage.schema import dashboard_sessions


def open_session(
    conn: Connection,
    *,
    token_hash: str,
    key_hash: str,
    actor: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Record a new session (and forget the ones that have expired)."""
    conn.execute(delete(dashboard_sessions).where(dashboard_sessions.c.expires_at <= now))
    conn.execute(
        insert(dashboard_sessions).values(
            token_hash=token_hash,
            key_hash=key_hash,
            actor=actor,
            created_at=now,
            expires_at=expires_at,
        )
    )


def key_hash_of(conn: Connection, token_hash: str, now: datetime) -> str | None:
    """The key hash of a live session, or ``None`` if there is none (or it expired)."""
    row = conn.execute(
        select(dashboard_sessions.c.key_hash, dashboard_sessions.c.expires_at).where(
            dashboard_sessions.c.token_hash == token_hash
        )
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return str(row.key_hash)


def close_session(conn: Connection, token_hash: str) -> bool:
    result = conn.execute(
        delete(dashboard_sessions).where(dashboard_sessions.c.token_hash == token_hash)
    )
    return bool(result.rowcount)
