"""The upstream clients of a configuration; ``simulated`` providers without a ``base_url`` get
a simulator served from this process (on a free loopback port, in a background thread)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from thrifty.config.loader import LoadedConfig
from thrifty.providers.client import UpstreamClient


@asynccontextmanager
async def upstream_clients(loaded: LoadedConfig) -> AsyncIterator[dict[str, UpstreamClient]]:
    clients: dict[str, UpstreamClient] = {}
    async with AsyncExitStack() as stack:
        for provider in loaded.config.providers:
            base_url = provider.base_url
            if provider.kind == "simulated" and base_url is None:
                from thrifty.providers.simulated import running_simulator

                base_url = stack.enter_context(running_simulator())
            client = UpstreamClient(provider, base_url=base_url)
            stack.push_async_callback(client.close)
            clients[provider.name] = client
        yield clients
