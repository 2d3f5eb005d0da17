"""``GET /metrics``: Prometheus text format (admin key).

Two kinds of figures:

* **from the database**, so every process answers the same for the whole deployment:
  requests, tokens and cost (in nano-USD: money is never a float here) in total by model,
  by provider and by team (the usage sums, after
  catching up with settled requests); each live budget's percent used; holds outstanding and
  the amount they reserve;
* **of this process** (like any per-process exporter; scrape each worker or run one):
  upstream latency by provider and model, and the gateway's decision time (analysis, rules,
  selection) as histograms.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select

from thrifty.api.cost_analysis import caught_up
from thrifty.api.state import AppState, require_admin
from thrifty.budgets.thresholds import percent_used
from thrifty.storage import balances, budgets_repo, channels_repo
from thrifty.storage.schema import holds, usage_cube

router = APIRouter(tags=["metrics"])
_BY = {"model": "model", "provider": "provider", "team_id": "team"}
Admin = Annotated[AppState, Depends(require_admin)]


def usage_totals(conn: Connection) -> list[dict[str, Any]]:
    """All-time requests, tokens and cost by model, provider and team (the cube's day sums)."""
    table = usage_cube
    sums = [func.sum(table.c[c]).label(c) for c in ("requests", "input_tokens",
                                                      "output_tokens", "cost_nano")]  # fmt: skip
    query = (
        select(table.c.dimension, table.c.value, *sums)
        .where(
            table.c.grain == "day",
            table.c.scope_type == "all",
            table.c.dimension.in_(list(_BY)),
        )
        .group_by(table.c.dimension, table.c.value)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def ledger_gauges(conn: Connection, now: datetime) -> dict[str, Any]:
    stored = budgets_repo.list_budgets(conn)
    states = balances.budget_states(conn, [b.spec for b in stored], now)
    held = conn.execute(
        select(func.count(), func.coalesce(func.sum(holds.c.amount_nano), 0)).where(
            holds.c.status == "held"
        )
    ).one()
    return {"states": states, "holds": int(held[0]), "held_nano": int(held[1]),
            "deliveries": channels_repo.counts(conn)}  # fmt: skip


class DatabaseCollector(Collector):
    """Turns figures read for one scrape into metric families."""

    def __init__(self, usage: list[dict[str, Any]], ledger: dict[str, Any]) -> None:
        self.usage = usage
        self.ledger = ledger

    def collect(self) -> Iterator[Metric]:
        for dimension, label in _BY.items():
            rows = [r for r in self.usage if r["dimension"] == dimension]
            requests = CounterMetricFamily(
                f"thrifty_{label}_requests", f"Requests settled, by {label}", labels=[label]
            )
            tokens = CounterMetricFamily(
                f"thrifty_{label}_tokens", f"Tokens, by {label} and direction",
                labels=[label, "direction"],
            )  # fmt: skip
            cost = CounterMetricFamily(
                f"thrifty_{label}_cost_nano_usd", f"Cost in nano-USD (1e-9 USD), by {label}",
                labels=[label],
            )  # fmt: skip
            for row in rows:
                value = row["value"] or "none"
                requests.add_metric([value], int(row["requests"]))
                tokens.add_metric([value, "input"], int(row["input_tokens"]))
                tokens.add_metric([value, "output"], int(row["output_tokens"]))
                cost.add_metric([value], int(row["cost_nano"]))
            yield from (requests, tokens, cost)
        used = GaugeMetricFamily(
            "thrifty_budget_percent_used", "Posted plus held spend, percent of the limit",
            labels=["budget", "scope_type", "scope_id"],
        )  # fmt: skip
        for state in self.ledger["states"]:
            percent = percent_used(state.used_nano, state.limit_nano)
            used.add_metric(
                [state.spec.id, state.spec.scope.type.value, state.spec.scope.id], float(percent)
            )
        yield used
        yield GaugeMetricFamily(
            "thrifty_holds_outstanding", "Holds placed and not yet settled or released",
            value=self.ledger["holds"],
        )  # fmt: skip
        yield GaugeMetricFamily(
            "thrifty_holds_outstanding_nano_usd", "Nano-USD reserved by outstanding holds",
            value=self.ledger["held_nano"],
        )  # fmt: skip
        deliveries = GaugeMetricFamily(
            "thrifty_alert_deliveries", "Alert deliveries by status (pending, delivered, failed)",
            labels=["status"],
        )  # fmt: skip
        for status in ("pending", "delivered", "failed"):
            deliveries.add_metric([status], self.ledger["deliveries"].get(status, 0))
        yield deliveries


@router.get("/metrics", summary="Prometheus metrics (admin key)", response_class=Response)
async def metrics(state: Admin) -> Response:
    await caught_up(state.database)
    now = state.now()
    usage = await state.database.aread(usage_totals)
    ledger = await state.database.aread(lambda conn: ledger_gauges(conn, now))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(usage, ledger))
    body = generate_latest(registry) + generate_latest(state.metrics.registry)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
