from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from starlette.testclient import TestClient

from thrifty.settings import Settings
from thrifty.storage.database import Database
from thrifty.storage.schema import alert_events, budget_balances, orgs, teams

ADMIN_KEY = "test-admin-key"  # as tests/conftest.py sets it
NOW = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)  # 10 of November's 30 days have passed
USD = 10**9
BUDGET: dict[str, Any] = {
    "id": "eng-monthly",
    "name": "Engineering",
    "scope": {"type": "team", "id": "eng"},
    "limit": "100.00",
    "period": "monthly",
    "start_date": "2026-11-01",
    "timezone": "UTC",
    "mode": "hard",
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def api(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    """The app at a fixed ``clock``, with the organisation ``acme`` and its team ``eng``."""
    from thrifty.app import create_app

    app = create_app(settings, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        database_of(test_client).write(_seed_directory)
        yield test_client


def database_of(client: TestClient) -> Database:
    database: Database = client.app.state.thrifty.database  # type: ignore[attr-defined]
    return database


def _seed_directory(conn: Any) -> None:
    conn.execute(insert(orgs).values(id="acme", name="Acme", created_at=NOW, updated_at=NOW))
    conn.execute(
        insert(teams).values(id="eng", org_id="acme", name="Eng", created_at=NOW, updated_at=NOW)
    )


def put_balance(
    client: TestClient, budget_id: str, window: int, *, posted: int, held: int = 0
) -> None:
    start = datetime(2026, 11 + window, 1, tzinfo=UTC)
    values = {
        "budget_id": budget_id,
        "window_index": window,
        "window_start": start,
        "window_end": datetime(2026, 12 + window, 1, tzinfo=UTC),
        "posted_nano": posted,
        "held_nano": held,
        "carried_nano": 0,
        "updated_at": NOW - timedelta(minutes=5),
    }
    database_of(client).write(lambda conn: conn.execute(insert(budget_balances).values(values)))


def create(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post("/api/v1/budgets", json={**BUDGET, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_budget_crud_round_trip(api: TestClient) -> None:
    body = {
        **BUDGET,
        "models": ["gpt-4o", "gpt-4o-mini"],
        "thresholds": [
            {"percent": 50, "actions": ["notify"]},
            {"percent": "90", "actions": ["block"]},
        ],
        "carry_over": {"enabled": True, "cap": "50.00"},
        "timezone": "Europe/Berlin",
    }
    created = api.post("/api/v1/budgets", json=body)
    assert created.status_code == 201, created.text
    budget = created.json()
    assert budget["limit"] == "100" and budget["timezone"] == "Europe/Berlin"
    assert budget["thresholds"] == [
        {"percent": "50", "actions": ["notify"]},
        {"percent": "90", "actions": ["block"]},
    ]
    assert budget["carry_over"] == {"enabled": True, "cap": "50"}
    assert budget["created_at"] == NOW.isoformat()
    assert api.get("/api/v1/budgets/eng-monthly").json() == budget
    assert [b["id"] for b in api.get("/api/v1/budgets").json()["budgets"]] == ["eng-monthly"]
    assert api.post("/api/v1/budgets", json=body).status_code == 409

    changed = api.put(
        "/api/v1/budgets/eng-monthly", json={**body, "limit": "250.5", "mode": "soft"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["limit"] == "250.5" and changed.json()["mode"] == "soft"
    assert api.get("/api/v1/budgets/eng-monthly").json()["limit"] == "250.5"

    assert api.delete("/api/v1/budgets/eng-monthly").status_code == 204
    assert api.get("/api/v1/budgets/eng-monthly").status_code == 404
    assert api.delete("/api/v1/budgets/eng-monthly").status_code == 404
    assert api.get("/api/v1/budgets").json()["budgets"] == []
    # Ids are never reused, not even after a delete.
    assert api.post("/api/v1/budgets", json=body).status_code == 409

    entries = api.get("/api/v1/audit", params={"target_type": "budget"}).json()["entries"]
    assert [e["action"] for e in entries] == ["budget.deleted", "budget.updated", "budget.created"]
    assert entries[1]["details"]["changes"]["limit"] == {"from": "100", "to": "250.5"}
    assert all(e["target_id"] == "eng-monthly" and e["actor"] == "admin" for e in entries)


def test_defaults_and_generated_id(api: TestClient) -> None:
    body = {k: v for k, v in BUDGET.items() if k not in ("id", "timezone", "mode")}
    response = api.post("/api/v1/budgets", json=body)
    assert response.status_code == 201, response.text
    budget = response.json()
    assert budget["id"].startswith("bud_") and budget["timezone"] == "UTC"
    assert budget["mode"] == "hard" and budget["models"] is None
    assert [t["percent"] for t in budget["thresholds"]] == ["50", "70", "85", "95", "100"]
    assert budget["carry_over"] == {"enabled": False, "cap": None}


def test_json_numbers_are_parsed_exactly(api: TestClient) -> None:
    # A float would turn 0.1 into 0.1000000000000000055… and lose digits of the second.
    assert create(api, id="a", limit=0.1)["limit"] == "0.1"
    raw = b'{"id": "b", "name": "B", "scope": {"type": "tag", "id": "batch"}, ' + (
        b'"limit": 12345678.123456789, "period": "daily", "start_date": "2026-11-01"}'
    )
    response = api.post(
        "/api/v1/budgets", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["limit"] == "12345678.123456789"
    assert create(api, id="c", limit=7)["limit"] == "7"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1e3"}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": "20000000000"}, "limit"),
        ({"scope": {"type": "galaxy", "id": "x"}}, "scope.type"),
        ({"scope": {"type": "team", "id": "nope"}}, "scope.id"),
        ({"scope": {"type": "organization", "id": "nope"}}, "scope.id"),
        ({"scope": {"type": "user", "id": "nope"}}, "scope.id"),
        ({"scope": {"type": "key", "id": "nope"}}, "scope.id"),
        ({"period": "fortnightly"}, "period"),
        ({"start_date": "2026-13-01"}, "start_date"),
        ({"period": "custom"}, "end_date"),
        ({"end_date": "2026-12-01"}, "end_date"),
        ({"period": "custom", "end_date": "2026-10-01"}, "end_date"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"mode": "medium"}, "mode"),
        ({"models": []}, "models"),
        ({"models": ["no-such-model"]}, "models[0]"),
        (
            {
                "thresholds": [
                    {"percent": 80, "actions": ["notify"]},
                    {"percent": 50, "actions": ["block"]},
                ]
            },
            "thresholds[1].percent",
        ),
        ({"thresholds": [{"percent": 50, "actions": ["explode"]}]}, "thresholds[0].actions[0]"),
        ({"thresholds": [{"percent": 150, "actions": ["notify"]}]}, "thresholds[0].percent"),
        ({"thresholds": []}, "thresholds"),
        ({"carry_over": {"enabled": True, "cap": "-5"}}, "carry_over.cap"),
        ({"id": "has space"}, "id"),
        ({"name": ""}, "name"),
        ({"limits": "5"}, "limits"),
    ],
)
def test_bad_budget_bodies_name_the_field(
    api: TestClient, changes: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/budgets", json={**BUDGET, **changes})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["param"] == field, response.text
    assert api.get("/api/v1/budgets").json()["budgets"] == []
    assert api.get("/api/v1/audit").json()["entries"] == []


def test_put_refuses_other_id_and_missing_budget(api: TestClient) -> None:
    create(api)
    response = api.put("/api/v1/budgets/eng-monthly", json={**BUDGET, "id": "other"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "id"
    missing = api.put("/api/v1/budgets/ghost", json={**BUDGET, "id": None})
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "budget_id"


def test_writes_need_the_admin_key(api: TestClient) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        assert api.post("/api/v1/budgets", json=BUDGET, headers=headers).status_code == 401
        assert api.get("/api/v1/budgets", headers=headers).status_code == 401


class Keys:
    """API keys of the users of organisation ``acme``: ``org_admin`` and ``team_admin`` and
    ``member`` in team ``eng``, ``ops_member`` in team ``ops``."""

    def __init__(self, client: TestClient) -> None:
        self.secrets: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        created = client.post("/api/v1/teams", json={"id": "ops", "org_id": "acme", "name": "Ops"})
        assert created.status_code == 201, created.text
        users = [
            ("org_admin", "eng", "org_admin"),
            ("team_admin", "eng", "team_admin"),
            ("member", "eng", "member"),
            ("ops_member", "ops", "member"),
        ]
        for name, team, role in users:
            body = {"id": name.replace("_", "-"), "team_id": team, "name": name, "role": role}
            assert client.post("/api/v1/users", json=body).status_code == 201
            key = client.post("/api/v1/keys", json={"user_id": body["id"], "name": name}).json()
            self.secrets[name], self.ids[name] = key["secret"], key["id"]

    def of(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[name]}"}


@pytest.fixture
def keys(api: TestClient) -> Keys:
    return Keys(api)


def budgets_of_every_scope(client: TestClient) -> None:
    create(client)
    create(client, id="acme-org", scope={"type": "organization", "id": "acme"})
    create(client, id="ops-monthly", scope={"type": "team", "id": "ops"})
    create(client, id="member-user", scope={"type": "user", "id": "member"})
    create(client, id="batch", scope={"type": "tag", "id": "batch"})


def test_api_keys_read_the_budgets_they_see(api: TestClient, keys: Keys) -> None:
    budgets_of_every_scope(api)

    def listed(name: str) -> set[str]:
        response = api.get("/api/v1/budgets", headers=keys.of(name))
        assert response.status_code == 200, response.text
        return {b["id"] for b in response.json()["budgets"]}

    assert listed("member") == {"acme-org", "eng-monthly", "member-user"}
    assert listed("team_admin") == {"acme-org", "eng-monthly", "member-user"}
    assert listed("ops_member") == {"acme-org", "ops-monthly"}
    assert listed("org_admin") == {"acme-org", "eng-monthly", "member-user", "ops-monthly"}

    member = keys.of("member")
    assert api.get("/api/v1/budgets/eng-monthly", headers=member).status_code == 200
    assert api.get("/api/v1/budgets/eng-monthly/status", headers=member).status_code == 200
    assert api.get("/api/v1/budgets/status/team/eng", headers=member).status_code == 200
    for path, field in [
        ("/api/v1/budgets/ops-monthly", "budget_id"),
        ("/api/v1/budgets/ops-monthly/status", "budget_id"),
        ("/api/v1/budgets/status/team/ops", "scope_id"),
        ("/api/v1/budgets/status/tag/batch", "scope_id"),
    ]:
        response = api.get(path, headers=member)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["param"] == field
    # Writing budgets stays with the admin key, also for an organisation admin.
    for name in ("member", "org_admin"):
        headers = keys.of(name)
        assert (
            api.post("/api/v1/budgets", json={**BUDGET, "id": "x"}, headers=headers).status_code
            == 403
        )
        assert api.delete("/api/v1/budgets/eng-monthly", headers=headers).status_code == 403


def test_status_from_the_balance_row(api: TestClient) -> None:
    create(api)
    put_balance(api, "eng-monthly", 0, posted=60 * USD, held=12_500_000_000)
    events = [
        {"window_index": 0, "kind": "threshold", "threshold": "50"},
        {"window_index": 0, "kind": "threshold", "threshold": "70"},
    ]
    old = {"window_index": 1, "kind": "threshold", "threshold": "50"}  # another window
    rows = [
        {"budget_id": "eng-monthly", "payload": {}, "created_at": NOW, **event}
        for event in [*events, old]
    ]
    database_of(api).write(lambda conn: conn.execute(insert(alert_events), rows))

    response = api.get("/api/v1/budgets/eng-monthly/status")
    assert response.status_code == 200, response.text
    status = response.json()
    # By hand: 60 posted + 12.5 held of 100 → 72.50%, past the 70% prefer-cheaper threshold.
    # 10 days elapsed, 20 left: 60 / 10 = 6 a day, 6 × 30 = 180 projected.
    assert {k: status[k] for k in ("limit", "currentSpend", "held", "remaining")} == {
        "limit": "100",
        "currentSpend": "60",
        "held": "12.5",
        "remaining": "27.5",
    }
    assert status["percentUsed"] == "72.50" and status["status"] == "warning"
    assert status["daysRemaining"] == "20.00"
    assert status["burnRate"] == "6" and status["projectedTotal"] == "180"
    assert status["period"] == {
        "index": 0,
        "start": "2026-11-01T00:00:00+00:00",
        "end": "2026-12-01T00:00:00+00:00",
    }
    assert [a["threshold"] for a in status["activeAlerts"]] == ["50", "70"]
    assert status["lastUpdated"] == NOW.isoformat()  # the budget was created at NOW
    assert status["active"] is True and status["asOf"] == NOW.isoformat()


def test_status_of_a_fresh_budget_in_its_time_zone(api: TestClient) -> None:
    create(api, timezone="Europe/Berlin", limit="30")
    status = api.get("/api/v1/budgets/eng-monthly/status").json()
    assert status["currentSpend"] == "0" and status["remaining"] == "30"
    assert status["percentUsed"] == "0.00" and status["status"] == "normal"
    assert status["period"]["start"] == "2026-10-31T23:00:00+00:00"  # Berlin midnight
    assert status["period"]["end"] == "2026-11-30T23:00:00+00:00"


def test_status_of_a_budget_not_started(api: TestClient) -> None:
    create(api, start_date="2027-01-01")
    status = api.get("/api/v1/budgets/eng-monthly/status").json()
    assert status["active"] is False and status["period"] is None
    assert status["limit"] == "100" and status["status"] == "normal"


def test_scope_status_aggregates_and_restricts(api: TestClient) -> None:
    create(api)
    create(api, id="eng-daily", period="daily", limit="10")
    create(api, id="other", scope={"type": "tag", "id": "batch"})
    put_balance(api, "eng-monthly", 0, posted=50 * USD)
    database_of(api).write(
        lambda conn: conn.execute(
            insert(budget_balances).values(
                budget_id="eng-daily",
                window_index=10,
                window_start=NOW,
                window_end=NOW + timedelta(days=1),
                posted_nano=9 * USD,
                held_nano=0,
                carried_nano=0,
                updated_at=NOW,
            )
        )
    )
    response = api.get("/api/v1/budgets/status/team/eng")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["scope"] == {"type": "team", "id": "eng"}
    by_id = {b["budgetId"]: b for b in report["budgets"]}
    assert set(by_id) == {"eng-daily", "eng-monthly"}
    assert by_id["eng-monthly"]["status"] == "normal"  # 50%: notify only
    assert by_id["eng-daily"]["percentUsed"] == "90.00"
    assert by_id["eng-daily"]["status"] == "critical"
    assert report["aggregateStatus"] == "critical"
    restrictions = report["costRestrictions"]
    assert restrictions["modelDowngrading"] == "enforce" and not restrictions["blocked"]
    # 85% requires approval above 10% of the headroom: 10% of 1 USD.
    assert restrictions["requireApprovalAbove"] == "0.1"
    assert restrictions["reasons"]

    empty = api.get("/api/v1/budgets/status/tag/nothing-here").json()
    assert empty["budgets"] == [] and empty["aggregateStatus"] == "normal"
    unknown = api.get("/api/v1/budgets/status/team/ghost")
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "scope_id"
    bad = api.get("/api/v1/budgets/status/galaxy/x")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "scope_type"


def test_status_follows_the_ledger(api: TestClient, clock: Clock) -> None:
    from thrifty.budgets.model import Scope, ScopeType
    from thrifty.storage import ledger

    create(api)
    database = database_of(api)
    team = (Scope(ScopeType.TEAM, "eng"),)

    def hold(request_id: str, usd: int) -> None:
        charge = ledger.Charge(
            request_id, team, usd * USD, clock.now + timedelta(minutes=5), team_id="eng"
        )
        assert database.write(lambda conn: ledger.reserve(conn, charge, clock.now)).ok

    hold("r1", 30)
    hold("r2", 15)
    database.write(lambda conn: ledger.settle(conn, "r1", 12_345_678_901, None, clock.now))
    status = api.get("/api/v1/budgets/eng-monthly/status").json()
    # 12.345678901 posted + 15 held of 100; 10 days elapsed of 30.
    assert status["currentSpend"] == "12.345678901" and status["held"] == "15"
    assert status["remaining"] == "72.654321099" and status["percentUsed"] == "27.34"
    assert status["burnRate"] == "1.23456789"  # 12.345678901 / 10, to the nano-USD
    assert status["projectedTotal"] == "37.037036703"  # × 30 / 10
    assert status["activeAlerts"] == [] and status["lastUpdated"] == NOW.isoformat()

    hold("r3", 25)  # 52.345678901 of 100: crosses 50%
    status = api.get("/api/v1/budgets/eng-monthly/status").json()
    assert status["held"] == "40" and status["percentUsed"] == "52.34"
    assert [(a["kind"], a["threshold"]) for a in status["activeAlerts"]] == [("threshold", "50")]
    alerts = api.get("/api/v1/alerts", params={"budget_id": "eng-monthly"}).json()["alerts"]
    assert [a["threshold"] for a in alerts] == ["50"]

    clock.now = NOW + timedelta(minutes=10)  # r2 and r3 expired, not yet swept: no longer held
    status = api.get("/api/v1/budgets/eng-monthly/status").json()
    assert status["held"] == "0" and status["currentSpend"] == "12.345678901"


def test_the_list_includes_every_status_on_request(api: TestClient, keys: Keys) -> None:
    budgets_of_every_scope(api)
    put_balance(api, "eng-monthly", 0, posted=25 * USD, held=5 * USD)
    listed = api.get("/api/v1/budgets", params={"include": "status"}).json()["budgets"]
    assert {b["id"] for b in listed} == {"acme-org", "batch", "eng-monthly", "member-user",
                                         "ops-monthly"}  # fmt: skip
    for budget in listed:
        one = api.get(f"/api/v1/budgets/{budget['id']}/status").json()
        one.pop("asOf")
        assert budget["status"] == one
        assert {k: v for k, v in budget.items() if k != "status"} == api.get(
            f"/api/v1/budgets/{budget['id']}"
        ).json()
    eng = next(b for b in listed if b["id"] == "eng-monthly")
    assert eng["status"]["currentSpend"] == "25" and eng["status"]["held"] == "5"
    # A key sees its own budgets' statuses only; without include, no status.
    mine = api.get("/api/v1/budgets", params={"include": "status"}, headers=keys.of("member"))
    assert {b["id"] for b in mine.json()["budgets"]} == {"acme-org", "eng-monthly", "member-user"}
    assert "status" not in api.get("/api/v1/budgets").json()["budgets"][0]
    refused = api.get("/api/v1/budgets", params={"include": "extensions"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "include"
