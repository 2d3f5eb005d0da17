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
