"""Fixtures of the gateway tests (helpers in ``gateway_support``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_support import ADMIN, Gateway, provision, serve

from thrifty.settings import Settings


@pytest.fixture
def gateway_config(tmp_path: Path) -> str | None:
    """The config file the gateway runs with (None: the built-in demo)."""
    return None


@pytest.fixture
def gateway(database_url: str, gateway_config: str | None) -> Iterator[Gateway]:
    settings = Settings(database_url=database_url, admin_key=ADMIN, config=gateway_config)
    for url in serve(settings):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            key = provision(admin)
            gateway = Gateway(url, key, admin, database_url)
            yield gateway
            gateway.close_clients()
