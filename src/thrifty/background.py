"""Background tasks of each process: cache refresh and the sweeping of expired holds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio.to_thread

from thrifty.storage import ledger, rollups
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


async def scan_anomalies_forever(
    database: Database, clock: Callable[[], datetime], interval: float
) -> None:
    """Look for unusual spend in every budget's scope, and alert once per anomaly."""
    from thrifty.notify.anomalies import scan_once

    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(scan_once, database, clock())
        except Exception:
            log.warning("scanning for anomalies failed; will retry")


ROLL_UP_BATCH = 1_000
ROLL_UP_BATCHES = 50  # per tick; a backlog (after downtime, an import) drains over ticks


def roll_up_once(database: Database) -> int:
    """Add settled usage records to the cost-analysis sums (a cheap read when none wait),
    a small batch per transaction so that settlements never wait long for the write lock."""
    done = 0
    for _ in range(ROLL_UP_BATCHES):
        if not database.read(rollups.has_pending):
            break
        added = database.write(lambda conn: rollups.roll_up(conn, ROLL_UP_BATCH, skip_locked=True))
        if not added:
            break
        done += added
    return done


async def roll_up_forever(database: Database, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(roll_up_once, database)
        except Exception:
            log.warning("rolling up usage records failed; will retry")
