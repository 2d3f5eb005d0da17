from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from thrifty.budgets.model import BudgetSpec, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind
from thrifty.errors import Conflict, InvalidInput, NotFound
from thrifty.storage import budgets_repo, overrides_repo
from thrifty.storage.audit_repo import list_audit
from thrifty.storage.database import Database
from thrifty.storage.overrides_repo import OverrideStatus

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=2)
USD = 10**9


def _budget(database: Database, budget_id: str = "b1") -> None:
    spec = BudgetSpec(
        id=budget_id,
        scope=Scope(ScopeType.TAG, "batch"),
        limit_nano=100 * USD,
        period=Period(PeriodKind.MONTHLY, date(2026, 11, 1)),
    )
    database.write(lambda c: budgets_repo.insert_budget(c, spec, budget_id, NOW))


def _request(database: Database, budget_id: str = "b1", **changes: object) -> str:
    values: dict[str, object] = {
        "budget_id": budget_id,
        "amount_nano": 5 * USD,
        "reason": "quarter-end report",
        "expires_at": LATER,
        "requested_by": "alice",
        "now": NOW,
        **changes,
    }
    record = database.write(lambda c: overrides_repo.create_override(c, **values))  # type: ignore[arg-type]
    return record.override.id


def test_override_lifecycle_is_audited(database: Database) -> None:
    _budget(database)
    override_id = _request(database, models=["gpt-4o"])
    pending = database.read(lambda c: overrides_repo.get_override(c, override_id))
    assert pending.status is OverrideStatus.PENDING and not pending.override.approved
    assert pending.override.models == frozenset({"gpt-4o"})
    assert database.read(lambda c: overrides_repo.active_overrides(c, ["b1"], NOW)) == []

    approved = database.write(
        lambda c: overrides_repo.approve_override(
            c, override_id, decided_by="admin", reason="ok", now=NOW
        )
    )
    assert approved.status is OverrideStatus.APPROVED and approved.decided_by == "admin"
    active = database.read(lambda c: overrides_repo.active_overrides(c, ["b1", "b2"], NOW))
    assert [o.id for o in active] == [override_id] and active[0].approved
    # Expired at expires_at exactly.
    assert database.read(lambda c: overrides_repo.active_overrides(c, ["b1"], LATER)) == []

    with pytest.raises(Conflict):
        database.write(
            lambda c: overrides_repo.deny_override(
                c, override_id, decided_by="admin", reason="no", now=NOW
            )
        )
    actions = [row["action"] for row in database.read(lambda c: list_audit(c))]
    assert actions == ["override.approved", "override.requested"]
    audit = database.read(lambda c: list_audit(c, target_type="budget", target_ids=["b1"]))
    assert all(row["details"]["override_id"] == override_id for row in audit)


def test_consumed_accumulates(database: Database) -> None:
    _budget(database)
    override_id = _request(database)
    database.write(
        lambda c: overrides_repo.approve_override(
            c, override_id, decided_by="admin", reason=None, now=NOW
        )
    )
    database.write(lambda c: overrides_repo.add_consumed(c, override_id, 2 * USD))
    database.write(lambda c: overrides_repo.add_consumed(c, override_id, 1))
    (active,) = database.read(lambda c: overrides_repo.active_overrides(c, ["b1"], NOW))
    assert active.consumed_nano == 2 * USD + 1 and active.remaining_nano == 3 * USD - 1
    with pytest.raises(NotFound):
        database.write(lambda c: overrides_repo.add_consumed(c, "nope", 1))


def test_denied_and_expired_pending(database: Database) -> None:
    _budget(database)
    denied = _request(database)
    record = database.write(
        lambda c: overrides_repo.deny_override(
            c, denied, decided_by="bob", reason="not now", now=NOW
        )
    )
    assert record.status is OverrideStatus.DENIED and record.decision_reason == "not now"
    stale = _request(database)
    with pytest.raises(Conflict):
        database.write(
            lambda c: overrides_repo.approve_override(
                c, stale, decided_by="admin", reason=None, now=LATER
            )
        )
    listed = database.read(lambda c: overrides_repo.list_overrides(c, status=OverrideStatus.DENIED))
    assert [r.override.id for r in listed] == [denied]
    assert len(database.read(lambda c: overrides_repo.list_overrides(c, budget_ids=["b1"]))) == 2


def test_bad_override_requests(database: Database) -> None:
    _budget(database)
    cases = [
        ({"budget_id": "missing"}, NotFound, "budget_id"),
        ({"expires_at": NOW}, InvalidInput, "expires_at"),
        ({"amount_nano": 0}, InvalidInput, "amount"),
        ({"models": []}, InvalidInput, "models"),
        ({"reason": "  "}, InvalidInput, "reason"),
    ]
    for changes, error, field in cases:
        with pytest.raises(error) as caught:
            _request(database, **changes)
        assert caught.value.field == field
    assert database.read(lambda c: overrides_repo.list_overrides(c)) == []
    assert database.read(lambda c: list_audit(c)) == []


def test_extensions_window_and_revocation(database: Database) -> None:
    _budget(database)
    start = NOW + timedelta(hours=1)
    ext = database.write(
        lambda c: overrides_repo.create_extension(
            c,
            budget_id="b1",
            amount_nano=20 * USD,
            reason="launch",
            expires_at=LATER,
            created_by="admin",
            now=NOW,
            starts_at=start,
        )
    )

    def active_at(moment: datetime) -> list[str]:
        return [
            e.id
            for e in database.read(lambda c: overrides_repo.active_extensions(c, ["b1"], moment))
        ]

    assert active_at(NOW) == [] and active_at(start) == [ext.id] and active_at(LATER) == []

    later = start + timedelta(hours=1)
    revoked = database.write(
        lambda c: overrides_repo.revoke_extension(c, "b1", ext.id, revoked_by="admin", now=later)
    )
    assert revoked.expires_at == later
    assert active_at(later) == [] and active_at(start) == [ext.id]
    with pytest.raises(Conflict):
        database.write(
            lambda c: overrides_repo.revoke_extension(
                c, "b1", ext.id, revoked_by="admin", now=later
            )
        )
    with pytest.raises(NotFound):
        database.write(
            lambda c: overrides_repo.revoke_extension(c, "b2", ext.id, revoked_by="x", now=later)
        )
    listed = database.read(lambda c: overrides_repo.list_extensions(c, "b1"))
    assert [e.id for e in listed] == [ext.id]
    actions = [row["action"] for row in database.read(lambda c: list_audit(c))]
    assert actions == ["extension.revoked", "extension.created"]


def test_extension_revoked_before_it_starts_never_applies(database: Database) -> None:
    _budget(database)
    start = NOW + timedelta(days=1)
    ext = database.write(
        lambda c: overrides_repo.create_extension(
            c,
            budget_id="b1",
            amount_nano=USD,
            reason="weekend",
            expires_at=LATER,
            created_by="admin",
            now=NOW,
            starts_at=start,
        )
    )
    revoked = database.write(
        lambda c: overrides_repo.revoke_extension(c, "b1", ext.id, revoked_by="admin", now=NOW)
    )
    assert revoked.expires_at == revoked.starts_at == start
    for moment in (NOW, start, LATER - timedelta(seconds=1)):
        assert (
            database.read(lambda c, m=moment: overrides_repo.active_extensions(c, ["b1"], m)) == []
        )
    # The list still shows it (it is no Extension value any more).
    assert [e.id for e in database.read(lambda c: overrides_repo.list_extensions(c, "b1"))] == [
        ext.id
    ]
    with pytest.raises(Conflict):
        database.write(
            lambda c: overrides_repo.revoke_extension(c, "b1", ext.id, revoked_by="admin", now=NOW)
        )
