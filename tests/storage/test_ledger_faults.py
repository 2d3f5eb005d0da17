"""A database restart mid-load: no posted record is lost, no hold outlives its timeout.

PostgreSQL connections are cut (``pg_terminate_backend``, what clients see when the server
restarts) while threads hold and settle. Calls in flight fail with a StorageError and are
retried by their callers, as the gateway does; afterwards every settlement that was
acknowledged is in the ledger exactly once, and sweeping after the timeout leaves nothing held.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from ledger_support import NOW, ORG, TEAM, USER, add_budget, charge
from sqlalchemy import func, select, text

from thrifty.errors import StorageError
from thrifty.storage import balances, budgets_repo, ledger
from thrifty.storage.database import Database
from thrifty.storage.schema import usage_records

AMOUNT = 1_000_000


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    yield database
    database.close()


def _with_retry(fn):  # type: ignore[no-untyped-def]
    for _ in range(50):
        try:
            return fn()
        except StorageError:
            time.sleep(0.02)
    raise AssertionError("the database did not come back")


@pytest.mark.slow
def test_connection_loss_mid_load_loses_nothing(postgres: Database) -> None:
    database = postgres
    add_budget(database, "team", TEAM, 10**12)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker(index: int) -> None:
        n = 0
        while not stop.is_set():
            request_id = f"w{index}-{n}"
            n += 1
            request = charge(request_id, AMOUNT, ttl=timedelta(seconds=30))
            try:
                result = database.write(lambda c, r=request: ledger.reserve(c, r, NOW))
            except StorageError:
                continue  # never held, or held and left to expire: both are safe
            if not result.ok:
                continue
            # A settlement whose commit was acknowledged or not: the retry is idempotent.
            _with_retry(
                lambda rid=request_id: database.write(
                    lambda c: ledger.settle(c, rid, AMOUNT // 2, None, NOW)
                )
            )
            with lock:
                acknowledged.append(request_id)

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(worker, i) for i in range(6)]
        time.sleep(0.5)
        for _ in range(3):  # cut every connection to the database, three times
            with database.engine.connect() as conn:
                name = conn.execute(text("SELECT current_database()")).scalar()
            admin = Database(database.url)
            admin.read(
                lambda c, db=name: c.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": db},
                ).all()
            )
            admin.close()
            time.sleep(0.3)
        stop.set()
        for future in futures:
            future.result()

    assert len(acknowledged) > 20
    later = NOW + timedelta(seconds=31)
    _with_retry(lambda: database.write(lambda c: ledger.sweep_expired(c, later, limit=10_000)))
    specs = database.read(lambda c: budgets_repo.specs_for_scopes(c, [USER, TEAM, ORG]))
    state = database.read(lambda c: balances.budget_states(c, specs, later))[0]
    assert state.held_nano == 0
    recorded = database.read(lambda c: set(c.execute(select(usage_records.c.request_id)).scalars()))
    assert set(acknowledged) <= recorded  # nothing acknowledged is lost
    total = database.read(lambda c: c.execute(select(func.sum(usage_records.c.cost_nano))).scalar())
    assert state.posted_nano == total == len(recorded) * (AMOUNT // 2)
    entries = database.read(lambda c: balances.spend_from_entries(c, "team", state.window.index))
    assert entries == state.posted_nano
