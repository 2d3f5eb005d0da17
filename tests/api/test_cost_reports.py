"""Months of realistic usage: every report against sums computed here, independently, from the
records themselves — cost analysis, trends, exports (CSV and FOCUS), forecast and anomalies."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, insert
from starlette.testclient import TestClient

from thrifty.analytics.export import FOCUS_MANDATORY
from thrifty.settings import Settings
from thrifty.storage.database import normalize_url
from thrifty.storage.schema import usage_records

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
START = datetime(2026, 9, 1, tzinfo=UTC)
NANO = Decimal(1_000_000_000)
TEAMS = {"eng": ["ann", "ari"], "ops": ["bob"], "data": ["dan", "dee"]}
MODELS = {"gpt-4o": 2_500, "gpt-4o-mini": 150, "claude-haiku-4-5": 1_000}  # nano-USD a token
TASKS = ["chat", "code", "summarisation", "extraction"]


def _records() -> list[dict]:
    rng = random.Random(11)
    found = []
    day = START
    while day < NOW.replace(hour=0):
        weekday = day.weekday() < 5
        for user_index, (team, user) in enumerate(
            (t, u) for t, users in TEAMS.items() for u in users
        ):
            for _ in range(rng.randint(15, 25) if weekday else rng.randint(2, 6)):
                model = rng.choice(list(MODELS))
                tokens_in, tokens_out = rng.randint(200, 3000), rng.randint(20, 600)
                failed = rng.random() < 0.03
                found.append(
                    {
                        "request_id": f"r{len(found)}", "key_id": f"k-{user}", "user_id": user,
                        "team_id": team, "org_id": "acme",
                        "tags": ["batch"] if user_index % 2 else ["web", "chat-ui"],
                        "metadata": {}, "model": model, "provider": model.split("-")[0],
                        "input_tokens": tokens_in, "cached_input_tokens": 0,
                        "output_tokens": 0 if failed else tokens_out, "reasoning_tokens": 0,
                        "cost_nano": 0 if failed else (tokens_in + tokens_out) * MODELS[model],
                        "estimated": 0, "status": "upstream_error" if failed else "ok",
                        "latency_ms": 400, "ttft_ms": None, "task_type": rng.choice(TASKS),
                        "created_at": day + timedelta(seconds=rng.randrange(86_400)),
                    }
                )  # fmt: skip
        day += timedelta(days=1)
    return found


RECORDS = _records()


def _usd(nano: int) -> Decimal:
    return Decimal(nano) / NANO


def _in(record: dict, start: datetime, end: datetime) -> bool:
    return start <= record["created_at"] < end


@pytest.fixture
def api(settings: Settings, database_url: str) -> Iterator[TestClient]:
    from thrifty.app import create_app

    engine = create_engine(normalize_url(database_url))
    with TestClient(create_app(settings, clock=lambda: NOW), raise_server_exceptions=False) as c:
        with engine.begin() as conn:  # what settlements write; the sums are rolled up from it
            conn.execute(insert(usage_records), RECORDS)
        engine.dispose()
        c.headers["Authorization"] = "Bearer test-admin-key"
        yield c


def test_reports_agree_with_the_records(api: TestClient) -> None:
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    window = {"start": start.isoformat(), "end": end.isoformat()}
    month = [r for r in RECORDS if _in(r, start, end)]
    body = api.get("/api/v1/cost-analysis/summary", params=window).json()
    assert body["requests"] == len(month)
    assert body["successfulRequests"] == sum(r["status"] == "ok" for r in month)
    assert Decimal(body["cost"]) == _usd(sum(r["cost_nano"] for r in month))
    assert body["inputTokens"] == sum(r["input_tokens"] for r in month)

    for dimension, column, name in (("model", "model", "model"), ("team", "team_id", "teamId"),
                                    ("user", "user_id", "userId"), ("key", "key_id", "keyId"),
                                    ("task-type", "task_type", "taskType"),
                                    ("provider", "provider", "provider")):  # fmt: skip
        groups = api.get(f"/api/v1/cost-analysis/by/{dimension}", params=window).json()["groups"]
        expected: dict[str, int] = defaultdict(int)
        for r in month:
            expected[r[column]] += r["cost_nano"]
        assert {g[name]: Decimal(g["cost"]) for g in groups} == {
            k: _usd(v) for k, v in expected.items()
        }, dimension
    tags = api.get("/api/v1/cost-analysis/by/tag", params=window).json()["groups"]
    by_tag: Counter[str] = Counter()
    for r in month:
        for tag in r["tags"]:
            by_tag[tag] += r["cost_nano"]
    assert {g["tag"]: Decimal(g["cost"]) for g in tags} == {k: _usd(v) for k, v in by_tag.items()}

    eng = api.get("/api/v1/cost-analysis/by-model", params={**window, "teamId": "eng"}).json()
    assert Decimal(eng["cost"]) == _usd(sum(r["cost_nano"] for r in month if r["team_id"] == "eng"))
    mini = api.get("/api/v1/cost-analysis/by/user", params={**window, "model": "gpt-4o-mini"})
    assert sum(g["requests"] for g in mini.json()["groups"]) == sum(
        r["model"] == "gpt-4o-mini" for r in month
    )


def test_trends_agree_with_the_records(api: TestClient) -> None:
    window = {"start": START.isoformat(), "end": NOW.isoformat()}
    weekly = api.get(
        "/api/v1/cost-analysis/trends", params={**window, "granularity": "week", "groupBy": "team"}
    ).json()
    for point in weekly["points"]:
        begin = datetime.fromisoformat(point["start"])
        week = [r for r in RECORDS if _in(r, begin, begin + timedelta(days=7))]
        assert Decimal(point["cost"]) == _usd(sum(r["cost_nano"] for r in week)), point["start"]
        split = {g["value"]: Decimal(g["cost"]) for g in point["groups"]}
        for team in TEAMS:
            nano = sum(r["cost_nano"] for r in week if r["team_id"] == team)
            assert split.get(team, Decimal(0)) == _usd(nano)
    monthly = api.get("/api/v1/cost-analysis/trends", params={**window, "granularity": "month"})
    assert [p["requests"] for p in monthly.json()["points"]] == [
        sum(r["created_at"].month == m for r in RECORDS) for m in (9, 10, 11)
    ]


def test_exports_agree_with_the_records(api: TestClient) -> None:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 15, tzinfo=UTC)
    window = {"start": start.isoformat(), "end": end.isoformat(), "teamId": "eng"}
    chosen = [r for r in RECORDS if _in(r, start, end) and r["team_id"] == "eng"]
    plain = api.get("/api/v1/cost/export", params=window)
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(plain.text)))
    assert len(rows) == len(chosen)
    assert sum(Decimal(r["cost_usd"]) for r in rows) == _usd(sum(r["cost_nano"] for r in chosen))
    focus = api.get("/api/v1/cost/export", params={**window, "format": "focus"})
    charges = list(csv.DictReader(io.StringIO(focus.text)))
    header = focus.text.splitlines()[0].split(",")
    assert header[: len(FOCUS_MANDATORY)] == list(FOCUS_MANDATORY)
    assert sum(Decimal(c["BilledCost"]) for c in charges) == _usd(
        sum(r["cost_nano"] for r in chosen)
    )
    assert sum(int(c["x_Requests"]) for c in charges) == len(chosen)
    first = charges[0]
    assert first["ChargeCategory"] == "Usage" and first["BillingCurrency"] == "USD"
    assert first["BillingPeriodStart"] == "2026-11-01T00:00:00Z"
    assert json.loads(first["Tags"])["team"] == "eng"
    assert {c["ChargePeriodStart"][:10] for c in charges} == {
        (start + timedelta(days=d)).date().isoformat() for d in range(14)
    }


def test_forecast_and_anomalies_run_on_the_record(api: TestClient) -> None:
    forecast = api.get(
        "/api/v1/cost/forecast", params={"scopeType": "team", "scopeId": "eng", "horizon": 14}
    ).json()
    assert len(forecast["points"]) == 14 and forecast["historyDays"] >= 85
    weekdays = [Decimal(p["value"]) for p in forecast["points"][:14]
                if datetime.fromisoformat(p["date"]).weekday() < 5]  # fmt: skip
    weekends = [Decimal(p["value"]) for p in forecast["points"][:14]
                if datetime.fromisoformat(p["date"]).weekday() >= 5]  # fmt: skip
    assert min(weekdays) > max(weekends)  # the weekly rhythm is forecast
    assert forecast["accuracy"]["mape"] < forecast["accuracy"]["seasonalNaiveMape"] * 1.2
    anomalies = api.get(
        "/api/v1/cost/anomalies", params={"start": "2026-11-01T00:00:00Z", "granularity": "day"}
    ).json()
    assert anomalies["anomalies"] == []  # an ordinary quarter has nothing unusual by day
