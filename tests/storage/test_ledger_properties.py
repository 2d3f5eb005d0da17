"""Property: no interleaving of hold, settle, void, expiry, sweeping and period turnover breaks
``posted + held ≤ limit`` for a hard budget, and a budget's posted amount always equals the sum
of its usage records and of its ledger entries, to the nano-USD."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import ORG, TEAM, USER
from sqlalchemy import func, select

from thrifty.budgets.model import BudgetSpec, Mode
from thrifty.budgets.periods import CarryOverPolicy, Period, PeriodKind
from thrifty.errors import Conflict, NotFound
from thrifty.storage import balances, budgets_repo, ledger
from thrifty.storage.database import Database
from thrifty.storage.schema import hold_lines, holds, ledger_entries, usage_records

START = datetime(2026, 11, 10, 22, 0, tzinfo=UTC)
LIMITS = {"team": 1_000, "org": 1_500, "user-soft": 300}

operation = st.one_of(
    st.tuples(st.just("hold"), st.integers(0, 7), st.integers(0, 600), st.integers(1, 120)),
    st.tuples(st.just("settle"), st.integers(0, 7), st.integers(0, 700)),
    st.tuples(st.just("void"), st.integers(0, 7)),
    st.tuples(st.just("sweep")),
    st.tuples(st.just("advance"), st.integers(1, 3 * 3600)),
)


def _reset(database: Database) -> None:
    def clear(conn):
        for table in (usage_records, ledger_entries, hold_lines, holds):
            conn.execute(table.delete())
        conn.execute(balances.budget_balances.delete())
        conn.execute(budgets_repo.budgets.delete())
        for budget_id, scope, mode in (
            ("team", TEAM, Mode.HARD),
            ("org", ORG, Mode.HARD),
            ("user-soft", USER, Mode.SOFT),
        ):
            spec = BudgetSpec(
                id=budget_id,
                scope=scope,
                limit_nano=LIMITS[budget_id],
                period=Period(PeriodKind.DAILY, date(2026, 11, 1), "UTC"),
                mode=mode,
                thresholds=(),
                carry_over=CarryOverPolicy(enabled=budget_id == "org"),
            )
            budgets_repo.insert_budget(conn, spec, budget_id, START)

    database.write(clear)


def _check(database: Database, now: datetime) -> None:
    def read(conn):
        specs = budgets_repo.specs_for_scopes(conn, [USER, TEAM, ORG])
        rows = list(conn.execute(select(balances.budget_balances)))
        live_held = {
            (r.budget_id, r.window_index): int(r.total)
            for r in conn.execute(
                select(
                    hold_lines.c.budget_id,
                    hold_lines.c.window_index,
                    func.sum(hold_lines.c.amount_nano).label("total"),
                )
                .join(holds, holds.c.request_id == hold_lines.c.request_id)
                .where(holds.c.status == "held", holds.c.expires_at > now)
                .group_by(hold_lines.c.budget_id, hold_lines.c.window_index)
            )
        }
        entries = {
            (r.budget_id, r.window_index): int(r.total)
            for r in conn.execute(
                select(
                    ledger_entries.c.budget_id,
                    ledger_entries.c.window_index,
                    func.sum(ledger_entries.c.amount_nano).label("total"),
                ).group_by(ledger_entries.c.budget_id, ledger_entries.c.window_index)
            )
        }
        usage_total = conn.execute(
            select(func.coalesce(func.sum(usage_records.c.cost_nano), 0))
        ).scalar()
        return specs, rows, live_held, entries, int(usage_total)

    specs, rows, live_held, entries, usage_total = database.read(read)
    by_id = {s.id: s for s in specs}
    states = {s.spec.id: s for s in database.read(lambda c: balances.budget_states(c, specs, now))}
    for row in rows:
        key = (row.budget_id, row.window_index)
        # Spend is exactly the sum of the entries (to the nano-USD).
        assert row.posted_nano == entries.get(key, 0)
        state = states.get(row.budget_id)
        if state is not None and state.window.index == row.window_index:
            # Held counts exactly the live holds; expired ones no longer count.
            assert state.held_nano == live_held.get(key, 0)
            if by_id[row.budget_id].mode is Mode.HARD:
                assert state.posted_nano + state.held_nano <= state.limit_nano
    # Every budget saw every settled request: usage records sum to each chain budget's entries.
    for budget_id in ("team", "org", "user-soft"):
        assert sum(v for (b, _), v in entries.items() if b == budget_id) == usage_total


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(operation, min_size=1, max_size=30))
def test_ledger_invariants_hold_under_any_interleaving(database: Database, ops: list) -> None:
    _reset(database)
    now = START
    amounts: dict[str, int] = {}
    for op in ops:
        kind = op[0]
        if kind == "hold":
            _, n, amount, ttl = op
            request = ledger.Charge(
                request_id=f"r{n}",
                scopes=(USER, TEAM, ORG),
                amount_nano=amount,
                expires_at=now + timedelta(seconds=ttl * 60),
            )
            try:
                result = database.write(lambda c, r=request, t=now: ledger.reserve(c, r, t))
            except Conflict:
                assert amounts.get(f"r{n}") not in (None, amount)
                continue
            if result.ok:
                amounts[f"r{n}"] = amount
        elif kind == "settle":
            _, n, actual = op
            actual = min(actual, amounts.get(f"r{n}", 0))  # a provider never bills above the hold
            with contextlib.suppress(NotFound, Conflict):
                database.write(
                    lambda c, n=n, a=actual, t=now: ledger.settle(c, f"r{n}", a, None, t)
                )
        elif kind == "void":
            with contextlib.suppress(NotFound, Conflict):
                database.write(lambda c, n=op[1], t=now: ledger.void(c, f"r{n}", t))
        elif kind == "sweep":
            database.write(lambda c, t=now: ledger.sweep_expired(c, t))
        else:
            now += timedelta(seconds=op[1])  # crosses midnight: the daily windows turn over
        _check(database, now)
