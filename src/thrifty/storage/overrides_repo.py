"""Persistence of overrides and emergency extensions, each change audited in its transaction.

The ledger reads :func:`active_overrides` and :func:`active_extensions` (domain values of
``budgets.overrides``) and calls :func:`add_consumed` when a critical request used an override's
allowance. The admin API creates, decides, lists and ends them with the other functions.

Audit rows name the budget as their target (``target_type="budget"``), so a budget's audit
trail shows its overrides and extensions next to its own changes; the details carry the
override's or extension's id.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from thrifty.budgets.money import format_nano
from thrifty.budgets.overrides import Extension, Override
from thrifty.errors import Conflict, InvalidInput, NotFound
from thrifty.storage import balances, budgets_repo
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.schema import extensions, overrides


class OverrideStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    """An override as stored: the domain value plus who asked, why, and the decision."""

    override: Override
    status: OverrideStatus
    requested_by: str
    reason: str
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ExtensionRecord:
    """An emergency extension as stored. One revoked before it started has
    ``expires_at == starts_at`` (never in force), so this is not an :class:`Extension`."""

    id: str
    budget_id: str
    amount_nano: int
    starts_at: datetime
    expires_at: datetime
    reason: str
    created_by: str
    created_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.expires_at


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def _override(row: Any) -> Override:
    return Override(
        id=row.id,
        budget_id=row.budget_id,
        amount_nano=row.amount_nano,
        expires_at=row.expires_at,
        approved=row.status == OverrideStatus.APPROVED,
        models=frozenset(row.models) if row.models is not None else None,
        consumed_nano=row.consumed_nano,
    )


def _override_record(row: Any) -> OverrideRecord:
    return OverrideRecord(
        override=_override(row),
        status=OverrideStatus(row.status),
        requested_by=row.requested_by,
        reason=row.reason,
        created_at=row.created_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
    )


def _extension(row: Any) -> Extension:
    return Extension(row.id, row.budget_id, row.amount_nano, row.starts_at, row.expires_at)


def _extension_record(row: Any) -> ExtensionRecord:
    return ExtensionRecord(
        id=row.id,
        budget_id=row.budget_id,
        amount_nano=row.amount_nano,
        starts_at=row.starts_at,
        expires_at=row.expires_at,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
    )


# --- What the ledger reads and writes --------------------------------------------------------


def active_overrides(conn: Connection, budget_ids: Sequence[str], now: datetime) -> list[Override]:
    """Approved overrides of ``budget_ids`` that have not expired at ``now`` (by id)."""
    if not budget_ids:
        return []
    query = (
        select(overrides)
        .where(
            overrides.c.budget_id.in_(list(budget_ids)),
            overrides.c.status == OverrideStatus.APPROVED.value,
            overrides.c.expires_at > now,
        )
        .order_by(overrides.c.id)
    )
    return [_override(row) for row in conn.execute(query)]


def active_extensions(
    conn: Connection, budget_ids: Sequence[str], now: datetime
) -> list[Extension]:
    """Extensions of ``budget_ids`` in force at ``now``: ``starts_at <= now < expires_at``."""
    if not budget_ids:
        return []
    query = (
        select(extensions)
        .where(
            extensions.c.budget_id.in_(list(budget_ids)),
            extensions.c.starts_at <= now,
            extensions.c.expires_at > now,
        )
        .order_by(extensions.c.id)
    )
    return [_extension(row) for row in conn.execute(query)]


def add_consumed(conn: Connection, override_id: str, amount_nano: int) -> None:
    """Add ``amount_nano`` to what override ``override_id`` has let through."""
    if isinstance(amount_nano, bool) or not isinstance(amount_nano, int) or amount_nano < 0:
        raise ValueError("amount_nano must be a non-negative int")
    result = conn.execute(
        update(overrides)
        .where(overrides.c.id == override_id)
        .values(consumed_nano=overrides.c.consumed_nano + amount_nano)
    )
    if result.rowcount == 0:
        raise NotFound(f"override {override_id!r} does not exist", field="override_id")


# --- Overrides ------------------------------------------------------------------------------


def _check_future(expires_at: datetime, now: datetime) -> None:
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise InvalidInput("expires_at must include a time zone", field="expires_at")
    if expires_at <= now:
        raise InvalidInput(
            f"expires_at must be in the future (now is {now.isoformat()})", field="expires_at"
        )


def create_override(
    conn: Connection,
    *,
    budget_id: str,
    amount_nano: int,
    reason: str,
    expires_at: datetime,
    requested_by: str,
    now: datetime,
    models: Sequence[str] | None = None,
    override_id: str | None = None,
) -> OverrideRecord:
    """A pending override request on a live budget; audited as ``override.requested``."""
    budgets_repo.get_budget(conn, budget_id)
    _check_future(expires_at, now)
    if not reason.strip():
        raise InvalidInput("reason must not be empty", field="reason")
    identifier = override_id or new_id("ovr")
    domain = Override(
        identifier,
        budget_id,
        amount_nano,
        expires_at,
        models=frozenset(models) if models is not None else None,
    )
    conn.execute(
        insert(overrides).values(
            id=identifier,
            budget_id=budget_id,
            requested_by=requested_by,
            amount_nano=amount_nano,
            models=sorted(domain.models) if domain.models is not None else None,
            reason=reason,
            expires_at=expires_at,
            status=OverrideStatus.PENDING.value,
            consumed_nano=0,
            created_at=now,
        )
    )
    record_audit(
        conn,
        actor=requested_by,
        action="override.requested",
        target_type="budget",
        target_id=budget_id,
        details={
            "override_id": identifier,
            "amount": format_nano(amount_nano),
            "models": sorted(domain.models) if domain.models is not None else None,
            "reason": reason,
            "expires_at": expires_at.isoformat(),
        },
        at=now,
    )
    details = {"requested_by": requested_by, "amount": format_nano(amount_nano),
               "reason": reason, "expires_at": expires_at.isoformat()}  # fmt: skip
    _alert(conn, budget_id, "override_requested", identifier, now, **details)
    return get_override(conn, identifier)


def _alert(
    conn: Connection, budget_id: str, kind: str, override_id: str, now: datetime, **details: Any
) -> None:
    """An override's request and its decision are alert events too (one each per override)."""
    payload = {"override_id": override_id, **details}
    balances.record_alert(conn, budget_id, 0, kind, override_id, payload, now)


def get_override(conn: Connection, override_id: str) -> OverrideRecord:
    row = conn.execute(select(overrides).where(overrides.c.id == override_id)).first()
    if row is None:
        raise NotFound(f"override {override_id!r} does not exist", field="override_id")
    return _override_record(row)


def list_overrides(
    conn: Connection,
    *,
    status: OverrideStatus | None = None,
    budget_ids: Sequence[str] | None = None,
    limit: int = 100,
    before_id: str | None = None,
) -> list[OverrideRecord]:
    """Overrides, newest first (by creation time, then id); ``before_id`` pages backwards."""
    query = select(overrides)
    if status is not None:
        query = query.where(overrides.c.status == status.value)
    if budget_ids is not None:
        if not budget_ids:
            return []
        query = query.where(overrides.c.budget_id.in_(list(budget_ids)))
    if before_id is not None:
        anchor = get_override(conn, before_id)
        query = query.where(
            (overrides.c.created_at < anchor.created_at)
            | ((overrides.c.created_at == anchor.created_at) & (overrides.c.id < before_id))
        )
    query = query.order_by(overrides.c.created_at.desc(), overrides.c.id.desc()).limit(limit)
    return [_override_record(row) for row in conn.execute(query)]


def decide_override(
    conn: Connection,
    override_id: str,
    *,
    approve: bool,
    decided_by: str,
    reason: str | None,
    now: datetime,
) -> OverrideRecord:
    """Approve or deny a pending override; anything else is a ``Conflict``.

    An override that expired while pending cannot be approved (``Conflict``) but can be denied.
    Audited as ``override.approved`` or ``override.denied``.
    """
    current = get_override(conn, override_id)
    if current.status is not OverrideStatus.PENDING:
        raise Conflict(f"override {override_id!r} is already {current.status}", field="override_id")
    if approve and current.override.expires_at <= now:
        raise Conflict(f"override {override_id!r} expired while pending", field="override_id")
    status = OverrideStatus.APPROVED if approve else OverrideStatus.DENIED
    result = conn.execute(
        update(overrides)
        .where(overrides.c.id == override_id, overrides.c.status == OverrideStatus.PENDING.value)
        .values(status=status.value, decided_by=decided_by, decided_at=now, decision_reason=reason)
    )
    if result.rowcount == 0:  # decided concurrently between the read and the update
        raise Conflict(f"override {override_id!r} was decided meanwhile", field="override_id")
    record_audit(
        conn,
        actor=decided_by,
        action=f"override.{status.value}",
        target_type="budget",
        target_id=current.override.budget_id,
        details={"override_id": override_id, "reason": reason},
        at=now,
    )
    amount = format_nano(current.override.amount_nano)
    kind = f"override_{status.value}"
    budget_id = current.override.budget_id
    _alert(conn, budget_id, kind, override_id, now, decided_by=decided_by, reason=reason,
           amount=amount)  # fmt: skip
    return get_override(conn, override_id)


def approve_override(
    conn: Connection, override_id: str, *, decided_by: str, reason: str | None, now: datetime
) -> OverrideRecord:
    return decide_override(
        conn, override_id, approve=True, decided_by=decided_by, reason=reason, now=now
    )


def deny_override(
    conn: Connection, override_id: str, *, decided_by: str, reason: str, now: datetime
) -> OverrideRecord:
    return decide_override(
        conn, override_id, approve=False, decided_by=decided_by, reason=reason, now=now
    )


# --- Extensions -----------------------------------------------------------------------------


def create_extension(
    conn: Connection,
    *,
    budget_id: str,
    amount_nano: int,
    reason: str,
    expires_at: datetime,
    created_by: str,
    now: datetime,
    starts_at: datetime | None = None,
    extension_id: str | None = None,
) -> ExtensionRecord:
    """An emergency extension of a live budget (from ``starts_at``, default ``now``)."""
    budgets_repo.get_budget(conn, budget_id)
    _check_future(expires_at, now)
    if not reason.strip():
        raise InvalidInput("reason must not be empty", field="reason")
    identifier = extension_id or new_id("ext")
    domain = Extension(identifier, budget_id, amount_nano, starts_at or now, expires_at)
    conn.execute(
        insert(extensions).values(
            id=identifier,
            budget_id=budget_id,
            amount_nano=amount_nano,
            reason=reason,
            created_by=created_by,
            starts_at=domain.starts_at,
            expires_at=domain.expires_at,
            created_at=now,
        )
    )
    record_audit(
        conn,
        actor=created_by,
        action="extension.created",
        target_type="budget",
        target_id=budget_id,
        details={
            "extension_id": identifier,
            "amount": format_nano(amount_nano),
            "reason": reason,
            "starts_at": domain.starts_at.isoformat(),
            "expires_at": domain.expires_at.isoformat(),
        },
        at=now,
    )
    return get_extension(conn, identifier)


def get_extension(conn: Connection, extension_id: str) -> ExtensionRecord:
    row = conn.execute(select(extensions).where(extensions.c.id == extension_id)).first()
    if row is None:
        raise NotFound(f"extension {extension_id!r} does not exist", field="extension_id")
    return _extension_record(row)


def list_extensions(conn: Connection, budget_id: str) -> list[ExtensionRecord]:
    """Every extension of ``budget_id``, past, present and future, newest start first."""
    query = (
        select(extensions)
        .where(extensions.c.budget_id == budget_id)
        .order_by(extensions.c.starts_at.desc(), extensions.c.id.desc())
    )
    return [_extension_record(row) for row in conn.execute(query)]


def revoke_extension(
    conn: Connection, budget_id: str, extension_id: str, *, revoked_by: str, now: datetime
) -> ExtensionRecord:
    """End an extension now: it stops raising the limit at ``now``.

    One that has not started yet ends before it starts (``expires_at = starts_at``, never in
    force); one that already ended is a ``Conflict``. Audited as ``extension.revoked``.
    """
    current = get_extension(conn, extension_id)
    if current.budget_id != budget_id:
        raise NotFound(
            f"extension {extension_id!r} does not belong to budget {budget_id!r}",
            field="extension_id",
        )
    ends_at = max(now, current.starts_at)
    if current.expires_at <= ends_at:
        raise Conflict(f"extension {extension_id!r} has already ended", field="extension_id")
    conn.execute(
        update(extensions).where(extensions.c.id == extension_id).values(expires_at=ends_at)
    )
    record_audit(
        conn,
        actor=revoked_by,
        action="extension.revoked",
        target_type="budget",
        target_id=budget_id,
        details={
            "extension_id": extension_id,
            "previous_expires_at": current.expires_at.isoformat(),
            "expires_at": ends_at.isoformat(),
        },
        at=now,
    )
    return get_extension(conn, extension_id)
