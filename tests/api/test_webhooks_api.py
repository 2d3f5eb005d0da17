"""Inbound webhooks: each sender's own secret, signatures good, bad, stale and replayed,
idempotency by event id, and what each kind changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from thrifty.notify.signing import signed_headers

NOW = datetime.now(UTC)


@pytest.fixture
def api(client: TestClient) -> TestClient:
    for path, body in (
        ("/api/v1/orgs", {"id": "acme", "name": "Acme"}),
        ("/api/v1/teams", {"id": "eng", "org_id": "acme", "name": "Eng"}),
        ("/api/v1/users", {"id": "ann", "team_id": "eng", "name": "Ann"}),
    ):
        assert client.post(path, json=body).status_code == 201
    budget = {
        "id": "eng-monthly",
        "name": "eng",
        "scope": {"type": "team", "id": "eng"},
        "limit": "10",
        "period": "monthly",
        "start_date": "2026-01-01",
        "mode": "hard",
        "thresholds": [{"percent": 50, "actions": ["notify"]}],
    }
    assert client.post("/api/v1/budgets", json=budget).status_code == 201
    return client


def sender(api: TestClient, sender_id: str = "batch", **extra: Any) -> str:
    made = api.post("/api/v1/webhook-senders", json={"id": sender_id, "name": sender_id, **extra})
    assert made.status_code == 201, made.text
    assert made.json()["kinds"] == sorted(
        extra.get("kinds", ["cost-data", "budget-alert", "model-cost-update"])
    )
    return str(made.json()["secret"])


def post(
    api: TestClient,
    kind: str,
    body: Any,
    secret: str,
    sender_id: str = "batch",
    at: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    raw = json.dumps(body).encode()
    signed = (
        headers if headers is not None else signed_headers(secret, raw, at or datetime.now(UTC))
    )
    return api.post(
        f"/api/v1/webhooks/{kind}",
        content=raw,
        headers={
            "Authorization": "",
            "X-Thrifty-Sender": sender_id,
            "Content-Type": "application/json",
            **signed,
        },
    )


def spend(api: TestClient) -> Decimal:
    status = api.get("/api/v1/budgets/eng-monthly/status")
    assert status.status_code == 200, status.text
    return Decimal(status.json()["currentSpend"])


def records(*costs: str, model: str = "gpt-4o") -> list[dict[str, Any]]:
    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return [
        {
            "id": f"r{i}",
            "timestamp": at,
            "model": model,
            "user_id": "ann",
            "cost": cost,
            "input_tokens": 100,
            "output_tokens": 10,
            "tags": ["batch"],
        }
        for i, cost in enumerate(costs)
    ]


def test_cost_data_counts_once_against_budgets(api: TestClient) -> None:
    secret = sender(api)
    body = {"id": "evt-1", "source": "nightly-batch", "records": records("1.25", "4.00")}
    first = post(api, "cost-data", body, secret)
    assert first.status_code == 202, first.text
    assert first.json() == {
        "event_id": "evt-1",
        "kind": "cost-data",
        "records": 2,
        "posted": 2,
        "already_posted": 0,
        "cost": "5.25",
        "duplicate": False,
    }
    assert spend(api) == Decimal("5.25")
    again = post(api, "cost-data", body, secret)  # a retried delivery, freshly signed
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["posted"] == 2
    assert spend(api) == Decimal("5.25")
    # The same records in a new event are not counted again either.
    overlap = post(api, "cost-data", {"id": "evt-2", "records": records("1.25")}, secret)
    assert overlap.status_code == 202 and overlap.json()["already_posted"] == 1
    assert spend(api) == Decimal("5.25")
    alerts = api.get("/api/v1/alerts", params={"budget_id": "eng-monthly"}).json()["alerts"]
    assert [a["kind"] for a in alerts] == ["threshold"]  # 50% crossed once
    groups = api.get("/api/v1/cost-analysis/by/tag").json()["groups"]
    assert [(g["tag"], g["cost"]) for g in groups] == [("batch", "5.25")]


def test_priced_from_tokens_when_no_cost(api: TestClient) -> None:
    secret = sender(api)
    record = {**records("0")[0], "cost": None, "input_tokens": 1_000_000, "output_tokens": 0}
    body = {"id": "evt-p", "records": [record]}
    done = post(api, "cost-data", body, secret)
    assert done.status_code == 202, done.text
    assert Decimal(done.json()["cost"]) == Decimal("2.5")  # the demo's gpt-4o input price
    unknown = {"id": "evt-u", "records": [{**records("0", model="mystery")[0], "cost": None}]}
    refused = post(api, "cost-data", unknown, secret)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "records.0.cost"


def test_bad_stale_and_foreign_signatures_change_nothing(api: TestClient) -> None:
    secret = sender(api)
    other = sender(api, "other")
    body = {"id": "evt-1", "records": records("3")}
    cases = {
        "wrong secret": post(api, "cost-data", body, other),
        "stale": post(api, "cost-data", body, secret, at=datetime.now(UTC) - timedelta(minutes=6)),
        "future": post(api, "cost-data", body, secret, at=datetime.now(UTC) + timedelta(minutes=6)),
        "no signature": post(api, "cost-data", body, secret, headers={}),
        "unknown sender": post(api, "cost-data", body, secret, sender_id="nobody"),
    }
    for case, response in cases.items():
        assert response.status_code == 401, (case, response.text)
        assert response.json()["error"]["code"] == "authentication_failed", case
    raw = json.dumps(body).encode()
    tampered = signed_headers(secret, raw, datetime.now(UTC))
    altered = json.dumps({**body, "records": records("0.01")}).encode()
    response = api.post(
        "/api/v1/webhooks/cost-data",
        content=altered,
        headers={"X-Thrifty-Sender": "batch", **tampered},
    )
    assert response.status_code == 401
    assert spend(api) == 0
    # A replay of a captured request: within the tolerance it is the same event (counted
    # once); after it, the old timestamp is refused.
    captured = signed_headers(secret, raw, datetime.now(UTC) - timedelta(seconds=10))
    assert post(api, "cost-data", body, secret, headers=captured).status_code == 202
    assert post(api, "cost-data", body, secret, headers=captured).json()["duplicate"] is True
    old = signed_headers(secret, raw, datetime.now(UTC) - timedelta(seconds=301))
    assert post(api, "cost-data", body, secret, headers=old).status_code == 401
    assert spend(api) == Decimal("3")
    assert api.delete("/api/v1/webhook-senders/batch").status_code == 204
    assert post(api, "cost-data", {**body, "id": "evt-9"}, secret).status_code == 401


def test_bad_bodies_name_the_field_and_change_nothing(api: TestClient) -> None:
    secret = sender(api)
    nobody = {"id": "e", "records": [{**records("1")[0], "user_id": "zed"}]}
    response = post(api, "cost-data", nobody, secret)
    assert response.status_code == 400 and response.json()["error"]["param"] == "records.0.user_id"
    mixed = {"id": "e", "records": [*records("1"), {**records("1")[0], "id": "x", "cost": "-1"}]}
    response = post(api, "cost-data", mixed, secret)
    assert response.status_code == 422 and response.json()["error"]["param"] == "records.1.cost"
    assert spend(api) == 0
    # The failed event id was not used up: a corrected delivery goes through.
    assert post(api, "cost-data", {"id": "e", "records": records("1")}, secret).status_code == 202
    limited = sender(api, "alerts-only", kinds=["budget-alert"])
    denied = post(api, "cost-data", {"id": "e2", "records": records("1")}, limited, "alerts-only")
    assert denied.status_code == 403


def test_budget_alert_is_shown_once(api: TestClient) -> None:
    secret = sender(api)
    body = {
        "id": "aws-77",
        "title": "Bedrock spend up 40%",
        "severity": "critical",
        "source": "aws-budgets",
        "scope": {"type": "team", "id": "eng"},
    }
    assert post(api, "budget-alert", body, secret).status_code == 202
    assert post(api, "budget-alert", body, secret).json()["duplicate"] is True
    alerts = api.get("/api/v1/alerts", params={"kind": "external"}).json()["alerts"]
    assert len(alerts) == 1 and alerts[0]["budget_id"] == "eng-monthly"
    assert alerts[0]["payload"]["title"] == "Bedrock spend up 40%"
    missing = post(
        api, "budget-alert", {**body, "id": "x", "scope": {"type": "team", "id": "ops"}}, secret
    )
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "scope"


def test_model_cost_update_dates_prices(api: TestClient) -> None:
    secret = sender(api)
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    price = {
        "model": "gpt-4o",
        "input_per_mtok": "2.00",
        "output_per_mtok": "8.00",
        "effective_from": soon,
    }
    body = {"id": "prices-1", "prices": [price]}
    done = post(api, "model-cost-update", body, secret)
    assert done.status_code == 202, done.text
    timeline = api.get("/api/v1/models/gpt-4o/prices").json()["prices"]
    assert timeline[-1]["source"] == "webhook" and timeline[-1]["effective_from"] == soon
    now_price = api.get("/api/v1/models/gpt-4o").json()["price"]
    assert Decimal(now_price["input_per_mtok"]) == Decimal("2.5")  # not before its date
    unknown = {"id": "prices-2", "prices": [{**body["prices"][0], "model": "nope"}]}
    response = post(api, "model-cost-update", unknown, secret)
    assert response.status_code == 400 and response.json()["error"]["param"] == "prices.0.model"
