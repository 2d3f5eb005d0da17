from __future__ import annotations

from datetime import timedelta

import pytest
from ledger_support import NOW, ORG, TEAM, USD, add_budget, charge
from sqlalchemy import func, select

from thrifty.budgets.model import Mode, Priority
from thrifty.budgets.periods import PeriodKind
from thrifty.budgets.thresholds import DEFAULT_THRESHOLDS
from thrifty.errors import Conflict, InvalidInput, NotFound
from thrifty.storage import balances, ledger
from thrifty.storage.database import Database
from thrifty.storage.schema import alert_events, audit_log, holds, usage_records


def _state(database: Database, spec, now=NOW):
    return database.read(lambda c: balances.budget_states(c, [spec], now))[0]


def test_hold_settle_posts_actual_on_every_budget(database: Database) -> None:
    team = add_budget(database, "b-team", TEAM, 10 * USD)
    org = add_budget(database, "b-org", ORG, 100 * USD)
    held = database.write(lambda c: ledger.reserve(c, charge("r1", 2 * USD), NOW))
    assert held.ok and {line.budget_id for line in held.lines} == {"b-team", "b-org"}
    assert _state(database, team).held_nano == 2 * USD

    usage = ledger.Usage(model="gpt-4o", input_tokens=10, output_tokens=5)
    result = database.write(lambda c: ledger.settle(c, "r1", USD // 2, usage, NOW))
    assert result.released_nano == 2 * USD
    for spec in (team, org):
        state = _state(database, spec)
        assert (state.posted_nano, state.held_nano) == (USD // 2, 0)
        entries = database.read(
            lambda c, s=spec, w=state.window.index: balances.spend_from_entries(c, s.id, w)
        )
        assert entries == USD // 2
    records = database.read(lambda c: c.execute(select(usage_records)).all())
    assert len(records) == 1 and records[0].cost_nano == USD // 2 and records[0].team_id == "eng"


def test_refuses_what_does_not_fit_and_names_the_budget(database: Database) -> None:
    add_budget(database, "b-team", TEAM, 3 * USD)
    add_budget(database, "b-org", ORG, 100 * USD)
    assert database.write(lambda c: ledger.reserve(c, charge("a", 2 * USD), NOW)).ok
    refused = database.write(lambda c: ledger.reserve(c, charge("b", 2 * USD), NOW))
    assert not refused.ok
    assert refused.refusal is not None
    assert refused.refusal.reason == "budget_exceeded" and refused.refusal.budget_id == "b-team"
    assert (
        "b-team" in refused.refusal.message
        and "1.00 USD left of 3.00 USD" in refused.refusal.message
    )
    # Nothing was held for the refused request.
    assert database.read(lambda c: c.execute(select(func.count()).select_from(holds)).scalar()) == 1


def test_soft_budget_never_refuses(database: Database) -> None:
    add_budget(database, "soft", TEAM, USD, mode=Mode.SOFT)
    assert database.write(lambda c: ledger.reserve(c, charge("a", 5 * USD), NOW)).ok


def test_budgets_for_other_models_do_not_apply(database: Database) -> None:
    add_budget(database, "gpt-only", TEAM, USD, models=frozenset({"gpt-4o"}))
    assert database.write(lambda c: ledger.reserve(c, charge("a", 5 * USD, model="claude"), NOW)).ok
    assert not database.write(
        lambda c: ledger.reserve(c, charge("b", 5 * USD, model="gpt-4o"), NOW)
    ).ok


def test_hold_is_idempotent_by_request_id(database: Database) -> None:
    spec = add_budget(database, "b", TEAM, 10 * USD)
    first = database.write(lambda c: ledger.reserve(c, charge("r", USD), NOW))
    again = database.write(lambda c: ledger.reserve(c, charge("r", USD), NOW))
    assert again.replayed and again.lines == first.lines
    assert _state(database, spec).held_nano == USD
    with pytest.raises(Conflict, match="same amount"):
        database.write(lambda c: ledger.reserve(c, charge("r", 2 * USD), NOW))


def test_settle_twice_changes_nothing_and_a_different_amount_is_refused(database: Database) -> None:
    spec = add_budget(database, "b", TEAM, 10 * USD)
    database.write(lambda c: ledger.reserve(c, charge("r", USD), NOW))
    database.write(lambda c: ledger.settle(c, "r", 300, None, NOW))
    replay = database.write(lambda c: ledger.settle(c, "r", 300, None, NOW))
    assert replay.replayed
    assert _state(database, spec).posted_nano == 300
    with pytest.raises(Conflict):
        database.write(lambda c: ledger.settle(c, "r", 301, None, NOW))
    with pytest.raises(Conflict):
        database.write(lambda c: ledger.void(c, "r", NOW))


def test_void_releases_and_is_idempotent(database: Database) -> None:
    spec = add_budget(database, "b", TEAM, 10 * USD)
    database.write(lambda c: ledger.reserve(c, charge("r", USD), NOW))
    assert database.write(lambda c: ledger.void(c, "r", NOW)) is True
    assert database.write(lambda c: ledger.void(c, "r", NOW)) is False
    state = _state(database, spec)
    assert (state.posted_nano, state.held_nano) == (0, 0)
    with pytest.raises(Conflict, match="voided"):
        database.write(lambda c: ledger.settle(c, "r", 1, None, NOW))


def test_unknown_holds_are_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        database.write(lambda c: ledger.settle(c, "nope", 1, None, NOW))
    with pytest.raises(NotFound):
        database.write(lambda c: ledger.void(c, "nope", NOW))


def test_bad_amounts_are_refused(database: Database) -> None:
    add_budget(database, "b", TEAM, 10 * USD)
    with pytest.raises(InvalidInput):
        database.write(lambda c: ledger.reserve(c, charge("r", -1), NOW))
    with pytest.raises(InvalidInput):
        database.write(lambda c: ledger.reserve(c, charge("r", 1, ttl=timedelta(0)), NOW))


def test_expired_hold_stops_counting_at_once_and_is_swept(database: Database) -> None:
    spec = add_budget(database, "b", TEAM, 3 * USD)
    database.write(
        lambda c: ledger.reserve(c, charge("old", 2 * USD, ttl=timedelta(seconds=30)), NOW)
    )
    later = NOW + timedelta(seconds=31)
    # Not swept yet, but expired: the space is free for a new hold.
    assert database.write(lambda c: ledger.reserve(c, charge("new", 3 * USD, now=later), later)).ok
    assert database.write(lambda c: ledger.sweep_expired(c, later)) == 1
    assert database.write(lambda c: ledger.sweep_expired(c, later)) == 0
    state = _state(database, spec, later)
    assert (state.posted_nano, state.held_nano) == (0, 3 * USD)
    # A late settlement of the expired hold still records the real cost (the call happened).
    late = database.write(lambda c: ledger.settle(c, "old", USD, None, later))
    assert late.late and late.released_nano == 0
    assert _state(database, spec, later).posted_nano == USD


def test_thresholds_raise_one_alert_per_crossing(database: Database) -> None:
    add_budget(database, "b", TEAM, 100 * USD, thresholds=DEFAULT_THRESHOLDS)
    for i in range(60):  # 60 × 1 USD: crosses 50% once
        database.write(lambda c, i=i: ledger.reserve(c, charge(f"r{i}", USD), NOW))
        database.write(lambda c, i=i: ledger.settle(c, f"r{i}", USD, None, NOW))
    events = database.read(lambda c: c.execute(select(alert_events)).all())
    assert [(e.kind, e.threshold) for e in events] == [("threshold", "50")]
    audit = database.read(lambda c: c.execute(select(audit_log.c.action)).scalars().all())
    assert audit.count("budget.threshold_crossed") == 1


def test_period_turnover_starts_fresh_and_carries_over(database: Database) -> None:
    from thrifty.budgets.model import BudgetSpec
    from thrifty.budgets.periods import CarryOverPolicy, Period
    from thrifty.storage import budgets_repo

    spec = BudgetSpec(
        id="daily",
        scope=TEAM,
        limit_nano=10 * USD,
        period=Period(PeriodKind.DAILY, NOW.date(), "UTC"),
        carry_over=CarryOverPolicy(enabled=True, cap_nano=5 * USD),
        thresholds=(),
    )
    database.write(lambda c: budgets_repo.insert_budget(c, spec, "daily", NOW))
    database.write(lambda c: ledger.reserve(c, charge("d1", 4 * USD), NOW))
    database.write(lambda c: ledger.settle(c, "d1", 4 * USD, None, NOW))
    tomorrow = NOW + timedelta(days=1)
    # 6 USD unused, capped at 5: tomorrow's limit is 15 USD.
    assert database.write(
        lambda c: ledger.reserve(c, charge("d2", 15 * USD, now=tomorrow), tomorrow)
    ).ok
    state = _state(database, spec, tomorrow)
    assert (state.posted_nano, state.held_nano, state.carried_nano) == (0, 15 * USD, 5 * USD)
    kinds = database.read(lambda c: [e.kind for e in c.execute(select(alert_events))])
    assert "turnover" in kinds


def test_critical_request_with_approved_override_passes_a_full_budget(database: Database) -> None:
    from thrifty.storage import overrides_repo

    add_budget(database, "b", TEAM, USD, thresholds=DEFAULT_THRESHOLDS)
    database.write(lambda c: ledger.reserve(c, charge("fill", USD), NOW))
    blocked = database.write(
        lambda c: ledger.reserve(c, charge("x", USD // 10, priority=Priority.CRITICAL), NOW)
    )
    assert not blocked.ok
    record = database.write(
        lambda c: overrides_repo.create_override(
            c,
            budget_id="b",
            requested_by="ann",
            amount_nano=USD,
            models=None,
            reason="incident",
            expires_at=NOW + timedelta(hours=1),
            now=NOW,
        )
    )
    database.write(
        lambda c: overrides_repo.approve_override(
            c, record.override.id, decided_by="admin", reason="ok", now=NOW
        )
    )
    normal = database.write(lambda c: ledger.reserve(c, charge("y", USD // 10), NOW))
    assert not normal.ok  # only critical requests may use an override
    critical = database.write(
        lambda c: ledger.reserve(c, charge("z", USD // 10, priority=Priority.CRITICAL), NOW)
    )
    assert critical.ok and critical.lines[0].override_id == record.override.id
