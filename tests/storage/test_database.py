from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text

from thrifty.errors import ConfigError, StorageError
from thrifty.storage.database import Database, normalize_url
from thrifty.storage.types import DecimalText, UTCDateTime

probe = MetaData()
values = Table(
    "probe_values",
    probe,
    Column("id", Integer, primary_key=True),
    Column("amount", DecimalText),
    Column("at", UTCDateTime),
)


@pytest.fixture
def probe_table(database: Database):
    probe.create_all(database.engine)
    yield values
    probe.drop_all(database.engine)


def test_migrations_are_idempotent(database: Database) -> None:
    database.migrate()
    version = database.read(
        lambda c: c.execute(text("SELECT version_num FROM alembic_version")).scalar()
    )
    assert version is not None


def test_decimals_round_trip_exactly(database: Database, probe_table: Table) -> None:
    amounts = [
        Decimal("0.000000001"),
        Decimal("12345678901.123456789"),
        Decimal("0.1") + Decimal("0.2"),
    ]
    database.write(lambda c: c.execute(insert(probe_table), [{"amount": a} for a in amounts]))
    stored = database.read(
        lambda c: [r.amount for r in c.execute(select(probe_table).order_by(probe_table.c.id))]
    )
    assert stored == amounts
    assert all(isinstance(a, Decimal) for a in stored)


def test_floats_are_refused_for_money(database: Database, probe_table: Table) -> None:
    with pytest.raises(Exception, match="Decimal"):
        database.write(lambda c: c.execute(insert(probe_table).values(amount=0.1)))


def test_times_come_back_aware_utc(database: Database, probe_table: Table) -> None:
    local = datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=5)))
    database.write(lambda c: c.execute(insert(probe_table).values(at=local)))
    stored = database.read(lambda c: c.execute(select(probe_table.c.at)).scalar())
    assert stored == local
    assert stored.tzinfo == UTC


def test_naive_times_are_refused(database: Database, probe_table: Table) -> None:
    with pytest.raises(Exception, match="naive"):
        database.write(
            lambda c: c.execute(insert(probe_table).values(at=datetime(2026, 1, 1)))  # noqa: DTZ001
        )


def test_a_failed_write_leaves_nothing(database: Database, probe_table: Table) -> None:
    def fail(c):
        c.execute(insert(probe_table).values(amount=Decimal(1)))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        database.write(fail)
    assert database.read(lambda c: c.execute(select(probe_table)).all()) == []


def test_concurrent_read_modify_write_loses_nothing(database: Database, probe_table: Table) -> None:
    """Writes are atomic read-modify-write steps: 8 threads × 25 increments = 200."""
    database.write(lambda c: c.execute(insert(probe_table).values(id=1, amount=Decimal(0))))

    def increment(c):
        row = c.execute(
            select(probe_table.c.amount).where(probe_table.c.id == 1).with_for_update()
        ).scalar()
        c.execute(probe_table.update().where(probe_table.c.id == 1).values(amount=row + 1))

    def worker():
        for _ in range(25):
            database.write(increment)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = database.read(lambda c: c.execute(select(probe_table.c.amount)).scalar())
    assert total == Decimal(200)


def test_url_forms() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(ConfigError, match="not supported"):
        normalize_url("mysql://u@h/db")


def test_unreachable_database_is_a_storage_error() -> None:
    database = Database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(StorageError, match="database unavailable"):
        database.read(lambda c: c.execute(text("SELECT 1")).scalar())


def test_a_connection_back_after_close_is_closed_not_dropped(database_url: str) -> None:
    database = Database(database_url)
    holding, release = threading.Event(), threading.Event()
    raw: list[object] = []

    def slow(conn):  # type: ignore[no-untyped-def]
        raw.append(conn.connection.dbapi_connection)
        holding.set()
        release.wait(10)
        return conn.execute(text("SELECT 1")).scalar()

    worker = threading.Thread(target=lambda: database.read(slow))
    worker.start()
    assert holding.wait(10)
    database.close(wait_s=0.05)  # gives up waiting: the transaction is still running
    with pytest.raises(StorageError, match="closed"):
        database.read(lambda conn: conn.execute(text("SELECT 1")).scalar())
    release.set()
    worker.join(10)
    # Checked in after the pool was disposed, the connection was closed (not left to the
    # garbage collector, which would warn of a connection deleted while still open).
    with pytest.raises(Exception, match=r"(?i)closed"):
        raw[0].cursor().execute("SELECT 1")  # type: ignore[attr-defined]
