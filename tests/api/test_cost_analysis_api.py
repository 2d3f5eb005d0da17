"""Cost analysis over the sums kept at settlement: totals, groups, trends, visibility, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from thrifty.storage import ledger, rollups
from thrifty.storage.database import Database
from thrifty.storage.ledger import Charge, Usage

DAY0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
USD = 1_000_000_000
RANGE = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-30T00:00:00Z"}


def _people(client: TestClient) -> dict[str, str]:
    """acme → eng (ann, team admin tia) and ops (bob); one key each. Returns their secrets."""
    client.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"})
    for team in ("eng", "ops"):
        client.post("/api/v1/teams", json={"id": team, "org_id": "acme", "name": team})
    people = {"ann": ("eng", "member"), "tia": ("eng", "team_admin"), "bob": ("ops", "member")}
    secrets = {}
    for user, (team, role) in people.items():
        made = client.post(
            "/api/v1/users", json={"id": user, "team_id": team, "name": user, "role": role}
        )
        assert made.status_code == 201, made.text
        key = client.post("/api/v1/keys", json={"user_id": user, "name": user})
        secrets[user] = key.json()["secret"]
        secrets[user + "_id"] = key.json()["id"]
    return secrets


def _spend(
    database: Database,
    request_id: str,
    at: datetime,
    cost_nano: int,
    *,
    user: str = "ann",
    team: str = "eng",
    model: str = "gpt-4o",
    provider: str = "openai",
    task: str | None = "code",
    tags: tuple[str, ...] = (),
    status: str = "ok",
    key_id: str | None = None,
) -> None:
    charge = Charge(
        request_id, (), cost_nano, at + timedelta(minutes=5), model=model, user_id=user,
        team_id=team, org_id="acme", tags=tags, key_id=key_id,
    )  # fmt: skip
    usage = Usage(
        model=model, provider=provider, input_tokens=1_000, output_tokens=500, status=status,
        task_type=task,
    )  # fmt: skip
    database.write(lambda c: ledger.reserve(c, charge, at))
    database.write(lambda c: ledger.settle(c, request_id, cost_nano, usage, at))


def _seed(database: Database, keys: dict[str, str]) -> None:
    for day in range(14):
        at = DAY0 + timedelta(days=day, hours=10)
        _spend(database, f"a{day}", at, 2 * USD, key_id=keys["ann_id"], tags=("chat", "web"))
        _spend(database, f"m{day}", at + timedelta(hours=1), USD // 10, model="gpt-4o-mini")
        _spend(
            database, f"b{day}", at, USD, user="bob", team="ops", model="claude-3-5-haiku",
            provider="anthropic", task="summarization", key_id=keys["bob_id"],
        )  # fmt: skip
    _spend(database, "fail", DAY0 + timedelta(hours=3), 0, status="upstream_error")


def _pico(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("1E-12"))


@pytest.fixture
def seeded(client: TestClient, database_url: str) -> dict[str, str]:
    keys = _people(client)
    database = Database(database_url)
    _seed(database, keys)
    database.close()
    return keys


def test_summary_totals_unit_costs_and_top_spenders(
    client: TestClient, seeded: dict[str, str]
) -> None:
    body = client.get("/api/v1/cost-analysis/summary", params=RANGE).json()
    assert body["requests"] == 43 and body["successfulRequests"] == 42
    assert body["failedRequests"] == 1
    assert Decimal(body["cost"]) == Decimal("43.4")  # 14 × (2 + 0.1 + 1)
    assert Decimal(body["costPerRequest"]) == _pico(Decimal("43.4") / 43)
    assert Decimal(body["costPerSuccessfulRequest"]) == _pico(Decimal("43.4") / 42)
    assert Decimal(body["costPer1kTokens"]) == _pico(Decimal("43.4") * 1000 / (43 * 1500))
    teams = body["topSpenders"]["teamIds"]
    assert [t["teamId"] for t in teams] == ["eng", "ops"]
    assert Decimal(teams[0]["cost"]) == Decimal("29.4") and teams[0]["sharePercent"] == "67.74"
    assert body["topSpenders"]["models"][0]["model"] == "gpt-4o"


def test_by_model_provider_and_every_dimension(client: TestClient, seeded: dict[str, str]) -> None:
    models = client.get("/api/v1/cost-analysis/by-model", params=RANGE).json()["groups"]
    assert [(g["model"], Decimal(g["cost"])) for g in models] == [
        ("gpt-4o", Decimal(28)),
        ("claude-3-5-haiku", Decimal(14)),
        ("gpt-4o-mini", Decimal("1.4")),
    ]
    providers = client.get("/api/v1/cost-analysis/by-provider", params=RANGE).json()["groups"]
    assert {g["provider"]: Decimal(g["cost"]) for g in providers} == {
        "openai": Decimal("29.4"), "anthropic": Decimal(14),
    }  # fmt: skip
    tasks = client.get("/api/v1/cost-analysis/by/task-type", params=RANGE).json()["groups"]
    assert {g["taskType"]: g["requests"] for g in tasks} == {"code": 29, "summarization": 14}
    tags = client.get("/api/v1/cost-analysis/by/tag", params=RANGE).json()["groups"]
    assert {g["tag"]: Decimal(g["cost"]) for g in tags} == {"chat": 28, "web": 28}
    users = client.get("/api/v1/cost-analysis/by/user", params=RANGE).json()["groups"]
    assert [g["userId"] for g in users] == ["ann", "bob"]
    keyed = client.get("/api/v1/cost-analysis/by/key", params=RANGE).json()["groups"]
    assert {g["keyId"] for g in keyed} == {seeded["ann_id"], seeded["bob_id"], None}
    orgs = client.get("/api/v1/cost-analysis/by/org", params=RANGE).json()["groups"]
    assert orgs[0]["orgId"] == "acme" and orgs[0]["requests"] == 43


def test_filters_narrow_every_view(client: TestClient, seeded: dict[str, str]) -> None:
    only = client.get("/api/v1/cost-analysis/summary", params={**RANGE, "model": "gpt-4o-mini"})
    assert Decimal(only.json()["cost"]) == Decimal("1.4")
    tagged = client.get("/api/v1/cost-analysis/by-model", params={**RANGE, "tag": "web"}).json()
    assert [g["model"] for g in tagged["groups"]] == ["gpt-4o"]
    week = {"start": "2026-11-02T00:00:00Z", "end": "2026-11-09T00:00:00Z"}
    assert client.get("/api/v1/cost-analysis/summary", params=week).json()["requests"] == 22


def test_trends_fill_every_period_and_split(client: TestClient, seeded: dict[str, str]) -> None:
    daily = client.get(
        "/api/v1/cost-analysis/trends",
        params={"start": "2026-11-01T00:00:00Z", "end": "2026-11-17T00:00:00Z"},
    ).json()
    assert len(daily["points"]) == 16
    assert daily["points"][0]["requests"] == 0  # 1 Nov: nothing, still a point
    assert Decimal(daily["points"][1]["cost"]) == Decimal("3.1")
    weekly = client.get(
        "/api/v1/cost-analysis/trends", params={**RANGE, "granularity": "week", "groupBy": "team"}
    ).json()
    assert [p["start"][:10] for p in weekly["points"]] == [
        "2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23",
    ]  # fmt: skip
    second = weekly["points"][1]
    assert {g["value"]: Decimal(g["cost"]) for g in second["groups"]} == {
        "eng": Decimal("14.7"), "ops": Decimal(7),
    }  # fmt: skip
    hourly = client.get(
        "/api/v1/cost-analysis/trends",
        params={"start": "2026-11-02T09:00:00Z", "end": "2026-11-02T13:00:00Z",
                "granularity": "hour"},
    ).json()  # fmt: skip
    assert [p["requests"] for p in hourly["points"]] == [0, 2, 1, 0]
    monthly = client.get(
        "/api/v1/cost-analysis/trends", params={**RANGE, "granularity": "month"}
    ).json()
    assert len(monthly["points"]) == 1 and Decimal(monthly["points"][0]["cost"]) == Decimal("43.4")


def test_visibility_follows_the_key(client: TestClient, seeded: dict[str, str]) -> None:
    def as_(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {seeded[user]}"}

    ann = client.get("/api/v1/cost-analysis/summary", params=RANGE, headers=as_("ann")).json()
    assert ann["requests"] == 29 and Decimal(ann["cost"]) == Decimal("29.4")  # her own user only
    tia = client.get("/api/v1/cost-analysis/by/user", params=RANGE, headers=as_("tia")).json()
    assert [g["userId"] for g in tia["groups"]] == ["ann"]  # team eng only
    denied = client.get(
        "/api/v1/cost-analysis/summary", params={**RANGE, "teamId": "ops"}, headers=as_("ann")
    )
    assert denied.status_code == 403 and denied.json()["error"]["param"] == "teamId"
    bob = client.get("/api/v1/cost-analysis/by-model", params=RANGE, headers=as_("bob")).json()
    assert [g["model"] for g in bob["groups"]] == ["claude-3-5-haiku"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("summary", {"start": "2026-11-10T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "start"),
        ("summary", {"start": "2026-11-01T00:00:00"}, "start"),
        ("summary", {"start": "yesterday"}, "start"),
        ("by/colour", {}, "dimension"),
        ("trends", {"granularity": "fortnight"}, "granularity"),
        ("trends", {"groupBy": "colour"}, "groupBy"),
        (
            "trends",
            {"granularity": "hour", "start": "2026-01-01T00:00:00Z", "end": "2026-11-01T00:00:00Z"},
            "granularity",
        ),
        ("by/tag", {"keyId": "k1"}, "keyId"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    response = client.get(f"/api/v1/cost-analysis/{path}", params=params)
    assert 400 <= response.status_code < 500, response.text
    assert field in response.text


def test_sums_equal_the_records_and_rebuild_reproduces_them(
    client: TestClient, seeded: dict[str, str], database_url: str
) -> None:
    database = Database(database_url)

    def snapshot() -> list[dict[str, object]]:
        return database.read(
            lambda c: rollups.read(
                c, "hour", DAY0 - timedelta(days=1), DAY0 + timedelta(days=30), rollups.Scope(),
                ("team_id", "user_id", "key_id", "model", "provider", "task_type"),
            )
        )  # fmt: skip

    assert database.read(rollups.has_pending)  # settling only records; the sums come after
    assert database.write(rollups.catch_up) == 43
    assert database.write(rollups.catch_up) == 0  # each record is counted once
    before = snapshot()
    assert sum(r["cost_nano"] for r in before) == 43_400_000_000
    assert database.write(rollups.rebuild) == 43
    assert snapshot() == before
    cube = database.read(
        lambda c: rollups.read_cube(
            c, "day", DAY0 - timedelta(days=1), DAY0 + timedelta(days=30), ("team", "eng"),
            ["total", "model"],
        )
    )  # fmt: skip
    assert sum(r["cost_nano"] for r in cube if r["dimension"] == "total") == 29_400_000_000
    assert {r["value"] for r in cube if r["dimension"] == "model"} == {"gpt-4o", "gpt-4o-mini"}
    database.close()
