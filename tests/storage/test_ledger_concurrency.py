"""Four processes × 50 concurrent holds against one hard budget: no overshoot, nothing lost."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from ledger_support import NOW, ORG, TEAM, USER, add_budget, charge
from sqlalchemy import func, select

from thrifty.storage import balances, budgets_repo, ledger
from thrifty.storage.database import Database
from thrifty.storage.schema import usage_records

PROCESSES = 4
HOLDS_PER_PROCESS = 50
AMOUNT = 7_000_000  # 0.007 USD
LIMIT = 100 * AMOUNT + AMOUNT // 2  # room for exactly 100 holds


def _worker(url: str, index: int) -> list[str]:
    """Place 50 holds from 10 threads; settle each granted hold at its full amount."""
    database = Database(url)

    def one(n: int) -> str | None:
        request = charge(f"p{index}-{n}", AMOUNT, ttl=timedelta(hours=1))
        result = database.write(lambda c: ledger.reserve(c, request, NOW))
        if not result.ok:
            return None
        database.write(lambda c: ledger.settle(c, request.request_id, AMOUNT, None, NOW))
        return request.request_id

    with ThreadPoolExecutor(10) as pool:
        granted = [r for r in pool.map(one, range(HOLDS_PER_PROCESS)) if r]
    database.close()
    return granted


@pytest.mark.slow
def test_no_overshoot_across_processes(database: Database, database_url: str) -> None:
    add_budget(database, "shared", TEAM, LIMIT)
    add_budget(database, "org", ORG, 10 * LIMIT)
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(_worker, [(database_url, i) for i in range(PROCESSES)])
    granted = [r for batch in results for r in batch]
    assert len(granted) == 100  # exactly as many as fit; all 200 were tried

    specs = database.read(lambda c: budgets_repo.specs_for_scopes(c, [USER, TEAM, ORG]))
    states = {s.spec.id: s for s in database.read(lambda c: balances.budget_states(c, specs, NOW))}
    shared = states["shared"]
    assert shared.held_nano == 0
    assert shared.posted_nano == 100 * AMOUNT <= LIMIT
    usage_total = database.read(
        lambda c: c.execute(select(func.sum(usage_records.c.cost_nano))).scalar()
    )
    assert usage_total == shared.posted_nano == states["org"].posted_nano
    for spec in specs:
        window = states[spec.id].window.index
        entries = database.read(lambda c, s=spec, w=window: balances.spend_from_entries(c, s.id, w))
        assert entries == states[spec.id].posted_nano
