"""Fixtures of the client tests: a real server on a loopback port (``gateway_support``), and
each test's client in both flavours, ``Client`` and ``AsyncClient``."""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

# The real-server helpers live with the gateway tests; they are shared, not copied.
sys.path.insert(0, str(Path(__file__).parents[1] / "gateway"))

from gateway_support import ADMIN, Gateway, provision, serve

from thrifty.client import AsyncClient, Client
from thrifty.settings import Settings


@pytest.fixture
def gateway(database_url: str) -> Iterator[Gateway]:
    """A server on the demo configuration with acme → eng → ann and one key of ann's."""
    for url in serve(Settings(database_url=database_url, admin_key=ADMIN)):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            gateway = Gateway(url, provision(admin), admin, database_url)
            yield gateway
            gateway.close_clients()


class Blocking:
    """An ``AsyncClient`` driven from a test: every coroutine runs to its end on one loop, and
    ``operation`` is entered with ``async with``. A test body then runs on either client."""

    def __init__(self, client: AsyncClient, runner: asyncio.Runner) -> None:
        self.client = client
        self.runner = runner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name == "operation":
            return lambda *args, **kwargs: _BlockingOperation(
                self.runner, attribute(*args, **kwargs)
            )
        if inspect.iscoroutinefunction(attribute):
            return lambda *args, **kwargs: self.runner.run(attribute(*args, **kwargs))
        return attribute


class _BlockingOperation:
    def __init__(self, runner: asyncio.Runner, context: Any) -> None:
        self.runner = runner
        self.context = context

    def __enter__(self) -> Any:
        return self.runner.run(self.context.__aenter__())

    def __exit__(self, *exc_info: Any) -> Any:
        return self.runner.run(self.context.__aexit__(*exc_info))


@pytest.fixture(params=["sync", "async"])
def connect(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``connect(base_url, api_key)``: a ``Client``, or an ``AsyncClient`` behind
    :class:`Blocking`; closed when the test ends."""
    opened: list[Callable[[], None]] = []
    with asyncio.Runner() as runner:

        def make(base_url: str, api_key: str) -> Any:
            if request.param == "sync":
                client = Client(base_url, api_key)
                opened.append(client.close)
                return client
            async_client = AsyncClient(base_url, api_key)
            opened.append(lambda: runner.run(async_client.aclose()))
            return Blocking(async_client, runner)

        yield make
        for close in opened:
            close()
