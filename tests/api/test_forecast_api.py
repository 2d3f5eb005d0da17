"""``GET /api/v1/cost/forecast`` on recorded spend: points, intervals, budget run-out, errors."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from thrifty.budgets.model import BudgetSpec, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind
from thrifty.settings import Settings
from thrifty.storage import budgets_repo, ledger
from thrifty.storage.database import Database
from thrifty.storage.ledger import Charge, Usage

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
USD = 1_000_000_000
WEEKLY = (1.0, 1.1, 1.2, 1.1, 1.0, 0.3, 0.2)  # Monday … Sunday, in USD


def _daily_usd(day: date) -> float:
    return 10 * WEEKLY[day.weekday()]


def _seed(url: str, days: int) -> None:
    database = Database(url)
    spec = BudgetSpec(
        id="eng-monthly", scope=Scope(ScopeType.TEAM, "eng"), limit_nano=400 * USD,
        period=Period(PeriodKind.MONTHLY, date(2026, 1, 1)), thresholds=(),
    )  # fmt: skip
    database.write(lambda c: budgets_repo.insert_budget(c, spec, "eng-monthly", NOW))
    start = NOW.replace(hour=0) - timedelta(days=days)
    for i in range(days + 1):  # up to and including today's morning
        at = start + timedelta(days=i, hours=9)
        if at > NOW:
            break
        nano = int(_daily_usd(at.date()) * USD) // (2 if at.date() == NOW.date() else 1)
        rid = f"r{i}"
        charge = Charge(rid, (spec.scope,), nano, at + timedelta(minutes=5), user_id="ann",
                        team_id="eng", org_id="acme", model="gpt-4o")  # fmt: skip
        database.write(lambda c, ch=charge, t=at: ledger.reserve(c, ch, t))
        usage = Usage(model="gpt-4o", provider="openai", input_tokens=10, output_tokens=10)
        database.write(lambda c, r=rid, n=nano, t=at, u=usage: ledger.settle(c, r, n, u, t))
    database.close()


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    from thrifty.app import create_app

    with TestClient(create_app(settings, clock=lambda: NOW), raise_server_exceptions=False) as c:
        c.headers["Authorization"] = "Bearer test-admin-key"
        c.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"})
        c.post("/api/v1/teams", json={"id": "eng", "org_id": "acme", "name": "Eng"})
        c.post("/api/v1/users", json={"id": "ann", "team_id": "eng", "name": "Ann"})
        yield c


def test_forecast_follows_the_weekly_pattern_and_projects_the_budget(
    api: TestClient, database_url: str
) -> None:
    _seed(database_url, 140)
    response = api.get(
        "/api/v1/cost/forecast", params={"scopeType": "team", "scopeId": "eng", "horizon": 14}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    points = body["points"]
    assert len(points) == 14 and points[0]["date"] == "2026-11-20"
    for point in points:
        expected = _daily_usd(date.fromisoformat(point["date"]))
        value = Decimal(point["value"])
        assert math.isclose(float(value), expected, rel_tol=0.1), point
        assert Decimal(point["lower95"]) <= Decimal(point["lower80"]) <= value
        assert value <= Decimal(point["upper80"]) <= Decimal(point["upper95"])
    (budget,) = body["budgets"]
    # November so far: 19 full days + half of today; the rest of the month at the pattern.
    november = [date(2026, 11, d) for d in range(1, 31)]
    spent = sum(_daily_usd(d) for d in november[:19]) + _daily_usd(november[19]) / 2
    rest = _daily_usd(november[19]) / 2 + sum(_daily_usd(d) for d in november[20:])
    assert math.isclose(float(Decimal(budget["used"])), spent, rel_tol=1e-9)
    assert math.isclose(float(Decimal(budget["projectedTotal"])), spent + rest, rel_tol=0.03)
    assert Decimal(budget["projectedLower80"]) <= Decimal(budget["projectedTotal"])
    assert budget["runsOutOn"] is None  # 400 USD is not reached by 30 November
    accuracy = body["accuracy"]
    assert accuracy["folds"] == 3 and accuracy["mape"] < accuracy["seasonalNaiveMape"] + 1


def test_run_out_date_when_the_limit_is_near(api: TestClient, database_url: str) -> None:
    _seed(database_url, 30)
    api.put(
        "/api/v1/budgets/eng-monthly",
        json={"name": "eng", "scope": {"type": "team", "id": "eng"}, "limit": "200",
              "period": "monthly", "start_date": "2026-01-01"},
    )  # fmt: skip
    body = api.get("/api/v1/cost/forecast", params={"scopeType": "team", "scopeId": "eng"}).json()
    (budget,) = body["budgets"]
    assert budget["runsOutOn"] is not None
    runs_out = date.fromisoformat(budget["runsOutOn"])
    assert date(2026, 11, 20) <= runs_out <= date(2026, 11, 30)
    cautious = date.fromisoformat(budget["runsOutOnCautious"])
    assert cautious <= runs_out
    assert body["accuracy"] is None  # a month of history is too short to backtest


def test_short_history_falls_back_to_a_burn_rate(api: TestClient, database_url: str) -> None:
    _seed(database_url, 5)
    body = api.get(
        "/api/v1/cost/forecast", params={"scopeType": "team", "scopeId": "eng", "horizon": 3}
    ).json()
    assert body["method"] == "burn_rate" and len(body["points"]) == 3


def test_no_spend_forecasts_zero(api: TestClient) -> None:
    body = api.get("/api/v1/cost/forecast", params={"scopeType": "user", "scopeId": "ann"}).json()
    assert {p["value"] for p in body["points"]} == {"0.00"}


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"scopeType": "planet", "scopeId": "x"}, 400, "scopeType"),
        ({"scopeType": "team"}, 400, "scopeId"),
        ({"scopeType": "team", "scopeId": "eng", "horizon": 0}, 400, "horizon"),
        ({"scopeType": "team", "scopeId": "eng", "horizon": 366}, 400, "horizon"),
    ],
)
def test_bad_input_names_the_field(
    api: TestClient, params: dict[str, object], status: int, field: str
) -> None:
    response = api.get("/api/v1/cost/forecast", params=params)
    assert response.status_code in (status, 422), response.text
    assert field in response.text
