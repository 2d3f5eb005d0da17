"""Anomaly alerts: every process scans each budget's scope for unusual hourly spend and records
what it finds as the budget's alert events (kind ``anomaly``), the path budget alerts take.

An alert is recorded once per flagged hour, metric and model (the alert table's unique key:
``window_index`` is the flagged hour, counted from the Unix epoch; ``threshold`` names the
metric and, for one model's series, a short hash of the model id), however many processes scan.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import Connection

from thrifty.analytics.costs import Granularity, period_start
from thrifty.api.anomalies import HISTORY, anomaly_json, read_usage, scan
from thrifty.api.forecasts import scope_filter
from thrifty.storage import balances, budgets_repo, rollups
from thrifty.storage.budgets_repo import StoredBudget
from thrifty.storage.database import Database

log = logging.getLogger("thrifty")
LOOKBACK = timedelta(hours=24)  # the hours each scan judges
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _label(metric: str, model: str | None) -> str:
    if model is None:
        return f"{metric}:total"[:16]
    return f"{metric[0]}:{hashlib.blake2b(model.encode(), digest_size=6).hexdigest()}"


def scan_budget(conn: Connection, budget: StoredBudget, now: datetime) -> int:
    """Record the anomalies of the last ``LOOKBACK`` in one budget's scope; returns how many
    were new."""
    end = period_start(now, Granularity.HOUR)  # complete hours only: the current one is not over
    start = end - LOOKBACK
    views = read_usage(conn, scope_filter(budget.spec.scope), "hour", start - HISTORY, end)
    if not views["total"]:
        return 0
    found = scan(
        views, grain="hour", start=start, end=end, metrics=("cost",), by_model=True,
        threshold=1.0,
    )  # fmt: skip
    new = 0
    for anomaly in found:
        hour = int((anomaly.bucket - _EPOCH) / timedelta(hours=1))
        payload = {"scope": {"type": budget.spec.scope.type.value, "id": budget.spec.scope.id},
                   **anomaly_json(anomaly)}  # fmt: skip
        label = _label(anomaly.metric, anomaly.model)
        if balances.record_alert(conn, budget.spec.id, hour, "anomaly", label, payload, now):
            new += 1
    return new


def scan_once(database: Database, now: datetime) -> int:
    if database.read(rollups.has_pending):
        database.write(rollups.catch_up)
    budgets = database.read(budgets_repo.list_budgets)
    new = 0
    for budget in budgets:
        new += database.write(partial(scan_budget, budget=budget, now=now))
    if new:
        log.info("recorded %d anomaly alert(s)", new)
    return new
