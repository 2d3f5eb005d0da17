"""How each upstream performed, read from ``usage_records`` (every upstream call writes one,
in every gateway process, so this covers them all).

Per (provider, model) over a window: the calls, partitioned by what they say about the upstream
(``providers.health.outcome_of``: ok, failed, rejected, aborted), and latency and time to first
token percentiles of the successful calls. Counts cover every row of the window; percentiles
are computed here from at most the latest ``SAMPLE_LIMIT`` successful calls per model (the same
code on SQLite and PostgreSQL, by linear interpolation between closest ranks, as PostgreSQL's
``percentile_cont`` does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, String, and_, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from thrifty.providers.health import Outcome, outcome_of
from thrifty.storage.schema import usage_records

SAMPLE_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float | None
    p95: float | None
    samples: int

    def json(self) -> dict[str, float | int | None]:
        return {"p50": self.p50, "p95": self.p95, "samples": self.samples}


@dataclass
class ModelPerformance:
    provider: str
    model: str
    calls: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    latency_ms: Percentiles = Percentiles(None, None, 0)
    ttft_ms: Percentiles = Percentiles(None, None, 0)

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    @property
    def errors(self) -> int:
        """Calls that ended with an upstream error, whoever was to blame."""
        return self.calls[Outcome.FAILED] + self.calls[Outcome.REJECTED]

    @property
    def error_rate(self) -> float | None:
        return None if not self.requests else self.errors / self.requests

    @property
    def availability(self) -> float | None:
        """The share of calls the upstream did not fail; aborted calls are left out."""
        judged = self.requests - self.calls[Outcome.ABORTED]
        return None if not judged else 1 - self.calls[Outcome.FAILED] / judged


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ascending values, interpolating linearly between ranks."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _percentiles(values: list[int]) -> Percentiles:
    values.sort()
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    return Percentiles(
        None if p50 is None else round(p50, 1), None if p95 is None else round(p95, 1), len(values)
    )


def _filters(since: datetime, provider: str | None, model: str | None) -> list[ColumnElement[bool]]:
    conditions = [usage_records.c.created_at >= since, usage_records.c.provider.is_not(None)]
    if provider is not None:
        conditions.append(usage_records.c.provider == provider)
    if model is not None:
        conditions.append(usage_records.c.model == model)
    return conditions


def model_performance(
    conn: Connection,
    *,
    since: datetime,
    provider: str | None = None,
    model: str | None = None,
    sample_limit: int = SAMPLE_LIMIT,
) -> list[ModelPerformance]:
    """Each (provider, model) with calls since ``since``, ordered by provider and model."""
    conditions = _filters(since, provider, model)
    found: dict[tuple[str, str], ModelPerformance] = {}

    def entry(provider: str, model: str) -> ModelPerformance:
        key = (provider, model)
        if key not in found:
            found[key] = ModelPerformance(provider, model)
        return found[key]

    # Only error rows need the upstream's status (kept in the record's metadata by the gateway).
    upstream_status = case(
        (
            usage_records.c.status == "error",
            usage_records.c.metadata["upstream_status"].as_string(),
        ),
        else_=literal(None, String),
    ).label("upstream_status")
    counts = (
        select(
            usage_records.c.provider,
            usage_records.c.model,
            usage_records.c.status,
            upstream_status,
            func.count().label("calls"),
        )
        .where(and_(*conditions))
        .group_by(
            usage_records.c.provider, usage_records.c.model, usage_records.c.status, upstream_status
        )
    )
    for row in conn.execute(counts):
        outcome = outcome_of(row.status, row.upstream_status)
        entry(row.provider, row.model or "").calls[outcome] += int(row.calls)

    rank = (
        func.row_number()
        .over(
            partition_by=(usage_records.c.provider, usage_records.c.model),
            order_by=(usage_records.c.created_at.desc(), usage_records.c.id.desc()),
        )
        .label("rank")
    )
    latest = (
        select(
            usage_records.c.provider,
            usage_records.c.model,
            usage_records.c.latency_ms,
            usage_records.c.ttft_ms,
            rank,
        )
        .where(and_(*conditions, usage_records.c.status == "ok"))
        .subquery()
    )
    samples = select(
        latest.c.provider, latest.c.model, latest.c.latency_ms, latest.c.ttft_ms
    ).where(latest.c.rank <= sample_limit)
    latencies: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for row in conn.execute(samples):
        lists = latencies.setdefault((row.provider, row.model or ""), ([], []))
        if row.latency_ms is not None:
            lists[0].append(row.latency_ms)
        if row.ttft_ms is not None:
            lists[1].append(row.ttft_ms)
    for key, (latency, ttft) in latencies.items():
        performance = entry(*key)
        performance.latency_ms = _percentiles(latency)
        performance.ttft_ms = _percentiles(ttft)
    return [found[key] for key in sorted(found)]
