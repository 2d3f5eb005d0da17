"""Background tasks of each process: cache refresh, sweeping expired holds, rolling usage up,
the anomaly and run-out scans, and sending alerts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio.to_thread

from thrifty.notify.delivery import Sender
from thrifty.notify.upstream import UpstreamAlerts
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
    """Look for unusual spend in every budget's scope, and alert once per anomaly; forecast
    each budgeted scope, and alert once per window when a budget will run out early."""
    from thrifty.notify import anomalies, forecasts

    while True:
        await asyncio.sleep(interval)
        for scan in (anomalies.scan_once, forecasts.scan_once):
            try:
                await anyio.to_thread.run_sync(scan, database, clock())
            except Exception:
                log.warning("scan %s failed; will retry", scan.__module__)


def deliver_once(sender: Sender, upstream: UpstreamAlerts) -> int:
    upstream.flush(sender.database)
    return sender.run_once()


async def deliver_forever(sender: Sender, upstream: UpstreamAlerts, interval: float) -> None:
    """Record upstream-down events, fan new alert events out and send what is due."""
    while True:
        await asyncio.sleep(interval)
        try:
            await anyio.to_thread.run_sync(deliver_once, sender, upstream)
        except Exception:
            log.warning("sending alerts failed; will retry", exc_info=True)


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
