"""``GET /api/v1/cost/anomalies``: a planted runaway key is found at its hour, with its root
cause, and a normal daily and weekly rhythm is not flagged."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from thrifty.settings import Settings
from thrifty.storage import rollups
from thrifty.storage.database import Database

NOW = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
SPIKE = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
START = NOW - timedelta(days=40)


def _facts(at: datetime, key: str, model: str, cost_nano: int, tags: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    return rollups.UsageFacts(
        at=at, org_id="acme", team_id="eng", user_id="ann" if key == "k-ann" else "bob",
        key_id=key, model=model, provider="sim", task_type="chat", tags=tags, ok=True,
        input_tokens=500, cached_input_tokens=0, output_tokens=100, cost_nano=cost_nano,
    )  # fmt: skip


def _normal_requests(at: datetime, rng: random.Random) -> int:
    busy = 9 <= at.hour < 18 and at.weekday() < 5
    return rng.randint(8, 12) if busy else rng.randint(1, 3)


def _seed(url: str, spike: bool) -> None:
    rng = random.Random(7)
    facts = []
    at = START
    while at < NOW:
        for _ in range(_normal_requests(at, rng)):
            facts.append(_facts(at, "k-ann", "gpt-4o-mini", 2_000_000, ("web",)))
        if spike and at == SPIKE:
            facts += [_facts(at, "k-loop", "gpt-4o", 40_000_000, ("batch",)) for _ in range(60)]
        at += timedelta(hours=1)
    database = Database(url)

    def write(conn) -> None:  # type: ignore[no-untyped-def]
        for fact in facts:
            rollups.add(conn, fact)

    database.write(write)
    database.close()


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    from thrifty.app import create_app

    with TestClient(create_app(settings, clock=lambda: NOW), raise_server_exceptions=False) as c:
        c.headers["Authorization"] = "Bearer test-admin-key"
        yield c


def test_a_runaway_key_is_found_with_its_root_cause(api: TestClient, database_url: str) -> None:
    _seed(database_url, spike=True)
    window = {"start": "2026-11-24T00:00:00Z", "end": NOW.isoformat()}
    response = api.get("/api/v1/cost/anomalies", params=window)
    assert response.status_code == 200, response.text
    anomalies = response.json()["anomalies"]
    assert anomalies, "the spike was not found"
    assert {a["timestamp"] for a in anomalies} == {SPIKE.isoformat()}
    total = next(a for a in anomalies if a["model"] is None and a["metric"] == "cost")
    assert total["direction"] == "spike" and total["severity"] in ("high", "critical")
    assert total["rootCause"]["dimension"] == "key" and total["rootCause"]["value"] == "k-loop"
    causes = {c["dimension"]: c["value"] for c in total["causes"]}
    assert causes["model"] == "gpt-4o" and causes["tag"] == "batch" and causes["user"] == "bob"
    assert float(total["costDelta"]) == pytest.approx(2.4, rel=0.05)  # 60 × 0.04 USD
    assert float(total["value"]) > float(total["expected"])
    daily = api.get(
        "/api/v1/cost/anomalies",
        params={"start": "2026-11-20T00:00:00Z", "end": NOW.isoformat(), "granularity": "day",
                "metric": "cost", "byModel": "false"},
    ).json()["anomalies"]  # fmt: skip
    assert [a["timestamp"][:10] for a in daily] == ["2026-11-29"]  # the 30th is not over


def test_a_normal_rhythm_is_not_flagged(api: TestClient, database_url: str) -> None:
    _seed(database_url, spike=False)
    for granularity in ("hour", "day"):
        body = api.get(
            "/api/v1/cost/anomalies",
            params={"start": "2026-11-16T00:00:00Z", "granularity": granularity},
        ).json()
        assert body["anomalies"] == [], (granularity, body["anomalies"][:3])


def test_bad_input_names_the_field(api: TestClient) -> None:
    for params, field in (
        ({"granularity": "week"}, "granularity"),
        ({"metric": "tokens"}, "metric"),
        ({"threshold": "0"}, "threshold"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "granularity"),
    ):
        response = api.get("/api/v1/cost/anomalies", params=params)
        assert response.status_code in (400, 422) and field in response.text, response.text


def test_the_scan_alerts_once_on_the_scope_budget(api: TestClient, database_url: str) -> None:
    from thrifty.notify.anomalies import scan_once

    _seed(database_url, spike=True)
    budget = {"id": "eng-monthly", "name": "eng", "scope": {"type": "team", "id": "eng"},
              "limit": "10000", "period": "monthly", "start_date": "2026-01-01"}  # fmt: skip
    api.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"})
    api.post("/api/v1/teams", json={"id": "eng", "org_id": "acme", "name": "Eng"})
    assert api.post("/api/v1/budgets", json=budget).status_code == 201
    database = Database(database_url)
    try:
        later = SPIKE + timedelta(hours=5)
        assert scan_once(database, later) >= 1
        assert scan_once(database, later + timedelta(minutes=10)) == 0  # once per anomaly
    finally:
        database.close()
    alerts = api.get("/api/v1/alerts", params={"kind": "anomaly"}).json()
    events = alerts["alerts"] if isinstance(alerts, dict) else alerts
    totals = [e for e in events if e["payload"]["model"] is None]
    assert len(totals) == 1 and totals[0]["budget_id"] == "eng-monthly"
    assert totals[0]["payload"]["rootCause"]["value"] == "k-loop"
