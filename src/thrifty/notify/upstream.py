"""Upstream-down alerts: when a circuit opens (``providers.health``), the process queues a note;
the alert sender writes each as an ``upstream_down`` alert event of no budget.

Each process judges upstreams from its own traffic, so several may see one outage: the event's
key (the hour it began, and the provider and model) records it once per hour however many do.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from thrifty.providers.health import CircuitView
from thrifty.storage import balances
from thrifty.storage.database import Database

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NO_BUDGET = ""  # the budget id of events that belong to no budget


class UpstreamAlerts:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._pending: list[tuple[str, str, CircuitView, datetime]] = []
        self._lock = threading.Lock()

    def opened(self, provider: str, model: str, view: CircuitView) -> None:
        """The ``ProviderHealth.on_open`` listener: cheap, never touches the database."""
        with self._lock:
            self._pending.append((provider, model, view, self.clock()))

    def flush(self, database: Database) -> int:
        with self._lock:
            pending, self._pending = self._pending, []
        new = 0
        for provider, model, view, at in pending:
            hour = int((at - _EPOCH) / timedelta(hours=1))
            key = hashlib.blake2b(f"{provider}/{model}".encode(), digest_size=8).hexdigest()
            payload = {"provider": provider, "model": model, "at": at.isoformat(),
                       "consecutive_failures": view.consecutive_failures,
                       "recent_calls": view.recent_calls, "recent_failures": view.recent_failures,
                       "retry_in_s": view.retry_in_s}  # fmt: skip
            record = partial(
                balances.record_alert, budget_id=NO_BUDGET, window_index=hour,
                kind="upstream_down", threshold=key, payload=payload, now=at,
            )  # fmt: skip
            new += database.write(record)
        return new
