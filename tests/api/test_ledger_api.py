"""The hold API for clients that call providers themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from starlette.testclient import TestClient

from thrifty.budgets.model import BudgetSpec, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind
from thrifty.storage import budgets_repo
from thrifty.storage.database import Database

NOW = datetime(2026, 11, 10, tzinfo=UTC)


def _tree(client: TestClient) -> str:
    """acme → eng → ann, with one key for ann; returns the key's secret."""
    assert client.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"}).status_code == 201
    assert (
        client.post(
            "/api/v1/teams", json={"id": "eng", "org_id": "acme", "name": "Eng"}
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/users", json={"id": "ann", "team_id": "eng", "name": "Ann"}
        ).status_code
        == 201
    )
    key = client.post("/api/v1/keys", json={"user_id": "ann", "name": "agent"})
    assert key.status_code == 201, key.text
    return str(key.json()["secret"])


def _budget(settings_url: str, scope: Scope, limit_usd: int, budget_id: str) -> None:
    database = Database(settings_url)
    spec = BudgetSpec(
        id=budget_id,
        scope=scope,
        limit_nano=limit_usd * 1_000_000_000,
        period=Period(PeriodKind.MONTHLY, date(2026, 1, 1)),
        thresholds=(),
    )
    database.write(lambda c: budgets_repo.insert_budget(c, spec, budget_id, NOW))
    database.close()


def test_key_holds_settles_and_is_refused_with_402(client: TestClient, database_url: str) -> None:
    secret = _tree(client)
    _budget(database_url, Scope(ScopeType.TEAM, "eng"), 1, "team-eng")
    agent = {"Authorization": f"Bearer {secret}"}

    held = client.post(
        "/api/v1/ledger/holds", json={"request_id": "a1", "amount": "0.6"}, headers=agent
    )
    assert held.status_code == 201, held.text
    assert held.json()["budgets"][0]["budget_id"] == "team-eng"
    again = client.post(
        "/api/v1/ledger/holds", json={"request_id": "a1", "amount": "0.6"}, headers=agent
    )
    assert again.status_code == 200 and again.json()["replayed"] is True

    refused = client.post(
        "/api/v1/ledger/holds", json={"request_id": "a2", "amount": "0.5"}, headers=agent
    )
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["type"] == "budget_exceeded" and error["budget_id"] == "team-eng"
    assert "team-eng" in error["message"]

    settled = client.post(
        "/api/v1/ledger/holds/a1/settle",
        json={
            "actual_cost": "0.25",
            "usage": {"model": "gpt-4o", "input_tokens": 100, "output_tokens": 20},
        },
        headers=agent,
    )
    assert settled.status_code == 200, settled.text
    assert Decimal(settled.json()["actual_cost"]) == Decimal("0.25")
    # Now 0.75 is free again.
    assert (
        client.post(
            "/api/v1/ledger/holds", json={"request_id": "a3", "amount": "0.5"}, headers=agent
        ).status_code
        == 201
    )
    assert client.post("/api/v1/ledger/holds/a3/void", headers=agent).json()["status"] == "voided"
    assert client.post("/api/v1/ledger/holds/a3/void", headers=agent).json()["replayed"] is True


def test_admin_names_the_principal(client: TestClient, database_url: str) -> None:
    _tree(client)
    _budget(database_url, Scope(ScopeType.ORGANIZATION, "acme"), 1, "org-acme")
    body = {"request_id": "x1", "amount": 2, "principal": {"user_id": "ann"}}
    refused = client.post("/api/v1/ledger/holds", json=body)
    assert refused.status_code == 402 and refused.json()["error"]["budget_id"] == "org-acme"
    no_principal = client.post("/api/v1/ledger/holds", json={"request_id": "x2", "amount": 1})
    assert no_principal.status_code == 400 and no_principal.json()["error"]["param"] == "principal"
    unknown = client.post(
        "/api/v1/ledger/holds",
        json={"request_id": "x3", "amount": 1, "principal": {"user_id": "zed"}},
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "principal.user_id"


def test_bad_input_names_the_field(client: TestClient) -> None:
    secret = _tree(client)
    agent = {"Authorization": f"Bearer {secret}"}
    cases = [
        ({"request_id": "r", "amount": "-1"}, 422, "amount"),
        ({"request_id": "r", "amount": "lots"}, 422, "amount"),
        ({"request_id": "", "amount": "1"}, 422, "request_id"),
        ({"request_id": "r", "amount": "1", "ttl_s": 0}, 422, "ttl_s"),
        ({"request_id": "r", "amount": "1", "priority": "urgent"}, 422, "priority"),
        ({"request_id": "r", "amount": "1", "principal": {"user_id": "ann"}}, 403, "principal"),
    ]
    for body, status, param in cases:
        response = client.post("/api/v1/ledger/holds", json=body, headers=agent)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["param"] == param
    assert (
        client.post("/api/v1/ledger/holds/nope/settle", json={"actual_cost": "1"}).status_code
        == 404
    )
    assert client.post("/api/v1/ledger/holds/nope/void").status_code == 404


def test_another_key_may_not_settle_my_hold(client: TestClient) -> None:
    secret = _tree(client)
    other = client.post("/api/v1/keys", json={"user_id": "ann", "name": "other"}).json()["secret"]
    client.post(
        "/api/v1/ledger/holds",
        json={"request_id": "m1", "amount": "0.1"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    response = client.post(
        "/api/v1/ledger/holds/m1/settle",
        json={"actual_cost": "0.1"},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert response.status_code == 403


def _usage_row(database_url: str, request_id: str) -> dict[str, object]:
    from sqlalchemy import select

    from thrifty.storage.schema import usage_records

    database = Database(database_url)
    try:
        row = database.read(
            lambda c: c.execute(
                select(usage_records).where(usage_records.c.request_id == request_id)
            ).one()
        )
    finally:
        database.close()
    return dict(row._mapping)


def test_a_key_adds_tags_to_its_chain(client: TestClient, database_url: str) -> None:
    secret = _tree(client)
    _budget(database_url, Scope(ScopeType.TAG, "agent:scout"), 1, "agent-scout")
    agent = {"Authorization": f"Bearer {secret}"}
    body = {"request_id": "t1", "amount": "0.4", "tags": ["agent:scout", "operation:plan"]}
    held = client.post("/api/v1/ledger/holds", json=body, headers=agent)
    assert held.status_code == 201, held.text
    assert [b["budget_id"] for b in held.json()["budgets"]] == ["agent-scout"]
    # The tag budget governs the tagged hold: 0.6 more does not fit beside 0.4.
    refused = client.post(
        "/api/v1/ledger/holds",
        json={"request_id": "t2", "amount": "0.7", "tags": ["agent:scout"]},
        headers=agent,
    )
    assert refused.status_code == 402 and refused.json()["error"]["budget_id"] == "agent-scout"
    untagged = client.post(
        "/api/v1/ledger/holds", json={"request_id": "t3", "amount": "0.7"}, headers=agent
    )
    assert untagged.status_code == 201 and untagged.json()["budgets"] == []
    settled = client.post(
        "/api/v1/ledger/holds/t1/settle", json={"actual_cost": "0.1"}, headers=agent
    )
    assert settled.status_code == 200, settled.text
    assert _usage_row(database_url, "t1")["tags"] == ["agent:scout", "operation:plan"]
    # The admin key's tags join the named principal's.
    admin = client.post(
        "/api/v1/ledger/holds",
        json={
            "request_id": "t4",
            "amount": "0.1",
            "principal": {"user_id": "ann", "tags": ["batch"]},
            "tags": ["agent:scout", "batch"],
        },
    )
    assert admin.status_code == 201, admin.text
    assert client.post("/api/v1/ledger/holds/t4/settle", json={"actual_cost": "0"}).is_success
    assert _usage_row(database_url, "t4")["tags"] == ["batch", "agent:scout"]
    too_long = {"request_id": "t5", "amount": "0", "tags": ["x" * 201]}
    response = client.post("/api/v1/ledger/holds", json=too_long, headers=agent)
    assert response.status_code == 422 and response.json()["error"]["param"] == "tags.0"


def test_settle_prices_the_usage_of_a_registered_model(
    client: TestClient, database_url: str
) -> None:
    secret = _tree(client)
    agent = {"Authorization": f"Bearer {secret}"}
    model = {
        "id": "priced",
        "provider": "simulated",
        "price": {"input_per_mtok": "1", "output_per_mtok": "4"},
        "context_window": 100_000,
    }
    assert client.post("/api/v1/models", json=model).status_code == 201
    for request_id in ("p1", "p2", "p3", "p4"):
        body = {"request_id": request_id, "amount": "0.01"}
        assert client.post("/api/v1/ledger/holds", json=body, headers=agent).status_code == 201

    usage = {"model": "priced", "input_tokens": 1000, "output_tokens": 500}
    settled = client.post("/api/v1/ledger/holds/p1/settle", json={"usage": usage}, headers=agent)
    assert settled.status_code == 200, settled.text
    # 1,000 input tokens at 1 USD/M and 500 output tokens at 4 USD/M.
    assert Decimal(settled.json()["actual_cost"]) == Decimal("0.003")
    row = _usage_row(database_url, "p1")
    assert row["cost_nano"] == 3_000_000 and row["model"] == "priced"
    assert row["input_tokens"] == 1000 and row["output_tokens"] == 500
    # A retry of the same settlement is a replay, priced the same.
    again = client.post("/api/v1/ledger/holds/p1/settle", json={"usage": usage}, headers=agent)
    assert again.json()["replayed"] is True and again.json()["actual_cost"] == "0.003"
    # An actual cost given wins over the usage's price.
    given = client.post(
        "/api/v1/ledger/holds/p2/settle",
        json={"actual_cost": "0.002", "usage": usage},
        headers=agent,
    )
    assert Decimal(given.json()["actual_cost"]) == Decimal("0.002")

    cases = [
        ({}, 400, "actual_cost"),
        ({"usage": {"input_tokens": 10}}, 400, "actual_cost"),
        ({"usage": {**usage, "model": "gpt-9"}}, 404, "usage.model"),
        ({"usage": {**usage, "cached_input_tokens": 2000}}, 400, "usage.cached_input_tokens"),
    ]
    for body, status, param in cases:
        response = client.post("/api/v1/ledger/holds/p3/settle", json=body, headers=agent)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["param"] == param
    # Nothing was posted by the refused settlements: the hold settles later as usual.
    assert client.post(
        "/api/v1/ledger/holds/p3/settle", json={"usage": usage}, headers=agent
    ).is_success
