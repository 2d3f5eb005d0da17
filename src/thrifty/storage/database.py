"""The database seam: one engine, reads on worker threads, writes serialized per process.

On SQLite every write transaction starts with ``BEGIN IMMEDIATE``, so a check and the write
that depends on it are one atomic step across every process sharing the file (the file lock
serializes them; ``busy_timeout`` waits for it). A per-process lock keeps this process's own
writers in a queue instead of contending for the file lock. On PostgreSQL writers run
concurrently; the ledger's statements carry their own row locks and conditions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from thrifty.errors import ConfigError, StorageError

T = TypeVar("T")
DEFAULT_URL = "sqlite:///./.thrifty/thrifty.db"
#: PostgreSQL's deadlock and serialization failures: the transaction was rolled back whole and
#: may simply run again.
_RETRYABLE = frozenset({"40P01", "40001"})
_RETRIES = 3


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://``; use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite://", "postgresql+psycopg://")):
        return url
    raise ConfigError(
        f"database URL {url.split(':', 1)[0]!r} is not supported: use sqlite:///PATH or "
        "postgresql://…",
        field="database_url",
    )


class Database:
    def __init__(self, url: str = DEFAULT_URL) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self.engine = self._create_engine(parsed.database)
        self._idle = threading.Condition()
        self._checked_out = 0
        self._closed = False
        event.listen(self.engine, "checkout", self._on_checkout)
        event.listen(self.engine, "checkin", self._on_checkin)

    def _on_checkout(self, *_args: Any) -> None:
        with self._idle:
            self._checked_out += 1

    def _on_checkin(self, dbapi_connection: Any, record: Any) -> None:
        if self._closed and record is not None:
            # Back after close() stopped waiting: the disposed pool would drop it unclosed.
            record.invalidate()
        with self._idle:
            self._checked_out -= 1
            if self._checked_out <= 0:
                self._idle.notify_all()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _create_engine(self, database: str | None) -> Engine:
        if not self.is_sqlite:
            return create_engine(
                self.url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=1800
            )
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            # As many pooled connections as worker threads (anyio's default limit is 40):
            # a connection opened past the pool is closed after use, and opening one costs
            # more than the transaction it serves.
            engine = create_engine(self.url, pool_size=40, max_overflow=20)
        else:
            engine = create_engine(self.url)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a read transaction (a consistent snapshot) and return its result."""
        try:
            with self._connect() as conn, conn.begin():
                return fn(conn)
        except OperationalError as exc:
            raise StorageError(f"database unavailable: {exc.orig}") from exc

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction: committed entirely or not at all."""
        try:
            if self._write_lock is None:
                return self._write(fn)
            with self._write_lock:
                return self._write(fn)
        except OperationalError as exc:
            raise StorageError(f"database unavailable: {exc.orig}") from exc

    def _write(self, fn: Callable[[Connection], T]) -> T:
        for attempt in range(_RETRIES):
            try:
                connection = self._connect().execution_options(thrifty_write=True)
                with connection as conn, conn.begin():
                    return fn(conn)
            except OperationalError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if code not in _RETRYABLE or attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _connect(self) -> Connection:
        if self._closed:  # a disposed engine would open a new pool that nothing ever closes
            raise StorageError("the database is closed")
        return self.engine.connect()

    async def aread(self, fn: Callable[[Connection], T]) -> T:
        return await anyio.to_thread.run_sync(self.read, fn)

    async def awrite(self, fn: Callable[[Connection], T]) -> T:
        return await anyio.to_thread.run_sync(self.write, fn)

    def migrate(self) -> None:
        from thrifty.storage.migrate import upgrade

        upgrade(self)

    def close(self, wait_s: float = 10.0) -> None:
        """Close the pool once the transactions still running (in worker threads) have ended,
        waiting at most ``wait_s``: a connection out at disposal would never be closed."""
        self._closed = True
        with self._idle:
            self._idle.wait_for(lambda: self._checked_out <= 0, timeout=wait_s)
        self.engine.dispose()


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun explicitly below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_sqlite(conn: Connection) -> None:
    write = conn.get_execution_options().get("thrifty_write", False)
    # Straight to the driver: SQLAlchemy's statement machinery would cost more than BEGIN.
    conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")  # type: ignore[union-attr]
