"""Shared fixtures: every database-backed test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``THRIFTY_TEST_POSTGRES_URL`` (a server the tests may create databases
on). Without it the PostgreSQL variants are skipped on a developer's machine, and fail in CI
(``CI`` set), where nothing may be skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from thrifty.settings import Settings
from thrifty.storage.database import Database, normalize_url
from thrifty.storage.schema import metadata

ADMIN_KEY = "test-admin-key"
POSTGRES_ENV = "THRIFTY_TEST_POSTGRES_URL"


def _require_postgres() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"{POSTGRES_ENV} is not set: CI runs every test on PostgreSQL too")
    pytest.skip(f"{POSTGRES_ENV} not set (PostgreSQL variant)")


class PostgresServer:
    """Creates throw-away databases on the test server and drops them at the end."""

    def __init__(self, url: str) -> None:
        self.url = make_url(normalize_url(url))
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create_database(self) -> str:
        name = f"thrifty_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer(_require_postgres())
    try:
        with server.admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # unreachable server: a failure, never a skip
        pytest.fail(f"PostgreSQL at {POSTGRES_ENV} is unreachable: {exc}")
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def postgres_migrated(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database()
    database = Database(url)
    database.migrate()
    database.close()
    return url


def _truncate(url: str) -> None:
    engine = create_engine(normalize_url(url))
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_migrated: str) -> str:
    """The migrated PostgreSQL test database, emptied (for PostgreSQL-only tests)."""
    _truncate(postgres_migrated)
    return postgres_migrated


@pytest.fixture(scope="session")
def sqlite_migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite file, copied for each test (migrating costs ~0.3 s a time)."""
    path = tmp_path_factory.mktemp("template") / "thrifty.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    database.close()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_migrated")
        shutil.copyfile(template, tmp_path / "thrifty.db")
        return f"sqlite:///{tmp_path}/thrifty.db"
    url: str = request.getfixturevalue("postgres_migrated")
    _truncate(url)
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    yield db
    db.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, admin_key=ADMIN_KEY)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from thrifty.app import create_app

    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield test_client


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
