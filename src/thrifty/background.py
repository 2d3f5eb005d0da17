"""Background tasks of each process: cache refresh and the sweeping of expired holds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio.to_thread

from thrifty.storage import ledger
from thrifty.storage.cache import VersionedCache
from thrifty.storage.database import Database

log = logging.getLogger("thrifty")


async def refresh_forever(caches: list[VersionedCache[Any]], interval: float) -> None:
    """Reload each cache whose version moved, so other processes' changes arrive."""
    while True:
        await asyncio.sleep(interval)
        for cache in caches:
            try:
                await anyio.to_thread.run_sync(cache.refresh)
            except Exception:  # a database blip must not kill the refresher
                log.warning("cache %s refresh failed; keeping the last snapshot", cache.name)


def sweep_once(database: Database, now: datetime) -> int:
    """Release expired holds; a cheap read first, so idle processes take no write lock."""
    if not database.read(lambda conn: ledger.has_expired(conn, now)):
        return 0
    return database.write(lambda conn: ledger.sweep_expired(conn, now))


async def sweep_forever(database: Database, clock: Callable[[], datetime], interval: float) -> None:
    """Expired holds stop counting at once; this releases them for good."""
    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(sweep_once, database, clock())
        except Exception:
            log.warning("sweeping expired holds failed; will retry")
