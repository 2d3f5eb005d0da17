"""Dashboard fixtures (the helpers they use are in ``ui_support.py``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from ui_support import ADMIN_KEY, NOW, Clock, Seeded, seed, sign_in

from thrifty.settings import Settings


@pytest.fixture
def database_url(tmp_path: Path, sqlite_migrated: Path) -> str:
    """SQLite only: the pages are a client of the API, whose storage is tested on both
    databases; the browser test (``tests/e2e``) runs the dashboard on both."""
    shutil.copyfile(sqlite_migrated, tmp_path / "thrifty.db")
    return f"sqlite:///{tmp_path}/thrifty.db"


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app_client(database_url: str, clock: Clock) -> Iterator[TestClient]:
    from thrifty.app import create_app

    app = create_app(Settings(database_url=database_url, admin_key=ADMIN_KEY), clock=clock)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield client


@pytest.fixture
def seeded(app_client: TestClient, clock: Clock) -> Seeded:
    return seed(app_client, clock)


@pytest.fixture
def admin_pages(seeded: Seeded) -> TestClient:
    """The dashboard signed in with the admin key (the API fixture keeps its own header)."""
    pages = TestClient(seeded.api.app, raise_server_exceptions=False, follow_redirects=False)
    return sign_in(pages, ADMIN_KEY)


@pytest.fixture
def key_pages(seeded: Seeded) -> Iterator[Any]:
    """A factory: the dashboard signed in with a seeded user's key."""
    made: list[TestClient] = []

    def pages(user: str) -> TestClient:
        client = TestClient(seeded.api.app, raise_server_exceptions=False,
                            follow_redirects=False)  # fmt: skip
        made.append(client)
        return sign_in(client, seeded.keys[user])

    yield pages
    for client in made:
        client.close()
