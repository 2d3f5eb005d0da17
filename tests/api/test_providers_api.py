"""``GET /api/v1/providers/performance`` over seeded usage records, checked against figures
computed here independently (``statistics.quantiles`` for the percentiles)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from starlette.testclient import TestClient

from thrifty.settings import Settings
from thrifty.storage import performance_repo
from thrifty.storage.database import Database
from thrifty.storage.schema import usage_records

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ADMIN_KEY = "test-admin-key"


@dataclass
class Call:
    provider: str
    model: str
    status: str
    minutes_ago: float
    latency_ms: int | None = None
    ttft_ms: int | None = None
    metadata: dict[str, Any] | None = None


def seed(database_url: str, calls: list[Call]) -> None:
    rows = [
        {
            "request_id": f"req_{i}",
            "tags": [],
            "metadata": call.metadata or {},
            "model": call.model,
            "provider": call.provider,
            "input_tokens": 10,
            "cached_input_tokens": 0,
            "output_tokens": 5,
            "reasoning_tokens": 0,
            "cost_nano": 1000 if call.status == "ok" else 0,
            "estimated": 0,
            "status": call.status,
            "latency_ms": call.latency_ms,
            "ttft_ms": call.ttft_ms,
            "created_at": NOW - timedelta(minutes=call.minutes_ago),
        }
        for i, call in enumerate(calls)
    ]
    database = Database(database_url)
    try:
        database.write(lambda conn: conn.execute(insert(usage_records), rows))
    finally:
        database.close()


def traffic() -> list[Call]:
    """Seeded traffic: ``alpha/a1`` with every kind of outcome, ``beta/b1`` all well, and
    calls older than an hour that no 60-minute window may count."""
    rng = random.Random(7)
    calls = []
    for i in range(150):
        ttft = rng.randint(20, 400) if i % 3 else None
        calls.append(Call("alpha", "a1", "ok", rng.uniform(0, 59), rng.randint(50, 5000), ttft))
    for upstream_status in (503, 503, 429, 500, 504, 502):
        calls.append(
            Call("alpha", "a1", "error", 5, 30, metadata={"upstream_status": upstream_status})
        )
    calls.append(Call("alpha", "a1", "interrupted", 6, 900, 80))
    calls += [Call("alpha", "a1", "error", 7, 20, metadata={"upstream_status": 400})] * 3
    calls += [Call("alpha", "a1", "disconnected", 8, 700, 60)] * 4
    calls.append(Call("alpha", "a1", "error", 9, 10, metadata={"note": "cancelled"}))
    for _ in range(40):
        calls.append(Call("beta", "b1", "ok", rng.uniform(0, 59), rng.randint(100, 300), 50))
    calls += [Call("alpha", "a1", "error", 61, 10, metadata={"upstream_status": 500})] * 20
    calls += [Call("beta", "b1", "ok", 120, 99_999, 99_999)] * 20
    return calls


def expected_percentiles(values: list[int]) -> dict[str, Any]:
    """p50 and p95 by ``statistics`` (to the 0.1 ms the API rounds to), and the sample count."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "p50": pytest.approx(cuts[49], abs=0.051),
        "p95": pytest.approx(cuts[94], abs=0.051),
        "samples": len(values),
    }


@pytest.fixture
def api(database_url: str) -> Iterator[TestClient]:
    from thrifty.app import create_app

    app = create_app(Settings(database_url=database_url, admin_key=ADMIN_KEY), clock=lambda: NOW)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield test_client


def test_aggregates_match_an_independent_computation(api: TestClient, database_url: str) -> None:
    calls = traffic()
    seed(database_url, calls)
    response = api.get("/api/v1/providers/performance")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window_minutes"] == 60
    assert body["since"] == (NOW - timedelta(hours=1)).isoformat()
    by_key = {(m["provider"], m["model"]): m for m in body["models"]}
    assert list(by_key) == [("alpha", "a1"), ("beta", "b1")]

    recent = [c for c in calls if c.minutes_ago <= 60]
    alpha = [c for c in recent if c.provider == "alpha"]
    ok = [c for c in alpha if c.status == "ok"]
    a1 = by_key[("alpha", "a1")]
    assert a1["requests"] == len(alpha) == 165
    assert a1["ok"] == len(ok) == 150
    assert a1["upstream_failures"] == 7  # six retryable errors and one broken stream
    assert a1["rejected"] == 3  # the 400s
    assert a1["aborted"] == 5  # four disconnects and one cancelled call
    assert a1["errors"] == 10
    assert a1["error_rate"] == round(10 / 165, 4)
    assert a1["availability"] == round(1 - 7 / (165 - 5), 4)
    assert a1["latency_ms"] == expected_percentiles([c.latency_ms for c in ok if c.latency_ms])
    assert a1["ttft_ms"] == expected_percentiles([c.ttft_ms for c in ok if c.ttft_ms])
    assert a1["circuit"]["state"] == "closed"  # this process has seen no calls

    beta_ok = [c for c in recent if c.provider == "beta"]
    b1 = by_key[("beta", "b1")]
    assert (b1["requests"], b1["errors"], b1["error_rate"], b1["availability"]) == (40, 0, 0, 1)
    assert b1["latency_ms"] == expected_percentiles([c.latency_ms for c in beta_ok if c.latency_ms])
    assert b1["ttft_ms"]["p95"] == 50


def test_window_and_filters(api: TestClient, database_url: str) -> None:
    seed(database_url, traffic())
    wide = api.get("/api/v1/providers/performance", params={"window_minutes": 180}).json()
    by_key = {(m["provider"], m["model"]): m for m in wide["models"]}
    assert by_key[("alpha", "a1")]["upstream_failures"] == 27
    assert by_key[("beta", "b1")]["requests"] == 60
    only = api.get("/api/v1/providers/performance", params={"provider": "beta"}).json()
    assert [m["model"] for m in only["models"]] == ["b1"]
    only = api.get("/api/v1/providers/performance", params={"model": "a1"}).json()
    assert [m["provider"] for m in only["models"]] == ["alpha"]
    none = api.get("/api/v1/providers/performance", params={"provider": "nobody"}).json()
    assert none["models"] == []


def test_bad_parameters_name_the_field(api: TestClient) -> None:
    cases = [
        ({"window_minutes": 0}, "window_minutes"),
        ({"window_minutes": "soon"}, "window_minutes"),
        ({"window_minutes": 10**6}, "window_minutes"),
        ({"provider": ""}, "provider"),
        ({"model": "x" * 201}, "model"),
    ]
    for params, field in cases:
        response = api.get("/api/v1/providers/performance", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["param"].endswith(field), response.text


def test_admin_key_is_required(api: TestClient) -> None:
    response = api.get("/api/v1/providers/performance", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_percentiles_use_only_the_latest_samples(database: Database, database_url: str) -> None:
    calls = [Call("alpha", "a1", "ok", 50 - i, latency_ms=i, ttft_ms=i) for i in range(1, 31)]
    seed(database_url, calls)
    since = NOW - timedelta(hours=1)
    (found,) = database.read(
        lambda conn: performance_repo.model_performance(conn, since=since, sample_limit=10)
    )
    assert found.requests == 30  # counts cover the whole window
    latest = list(range(21, 31))  # the ten newest calls
    assert found.latency_ms.json() == expected_percentiles(latest)
    assert found.ttft_ms.samples == 10


def test_percentile_interpolates_like_percentile_cont() -> None:
    assert performance_repo.percentile([], 0.5) is None
    assert performance_repo.percentile([7], 0.95) == 7
    assert performance_repo.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert performance_repo.percentile([0, 10], 0.95) == pytest.approx(9.5)
