"""``GET /api/v1/cost/savings`` against decisions the gateway made in-process."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from thrifty.pricing.catalog import TokenUsage, cost_of
from thrifty.storage.schema import usage_records

PROMPT = [{"role": "user", "content": "Summarise in one line: the meeting moved to Tuesday."}]


def _key(client: TestClient, user: str, team: str) -> str:
    for path, body in (
        ("/api/v1/teams", {"id": team, "org_id": "acme", "name": team}),
        ("/api/v1/users", {"id": user, "team_id": team, "name": user}),
    ):
        assert client.post(path, json=body).status_code == 201
    issued = client.post("/api/v1/keys", json={"user_id": user, "name": user})
    assert issued.status_code == 201, issued.text
    secret: str = issued.json()["secret"]
    return secret


def _chat(client: TestClient, key: str, model: str) -> str:
    response = client.post(
        "/v1/chat/completions", json={"model": model, "messages": PROMPT, "max_tokens": 50},
        headers={"Authorization": f"Bearer {key}"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.headers["x-thrifty-request-id"]


def _usage(client: TestClient, request_id: str) -> Any:
    database = client.app.state.thrifty.database  # type: ignore[attr-defined]
    query = select(usage_records).where(usage_records.c.request_id == request_id)
    return database.read(lambda conn: conn.execute(query).one())


def test_savings_price_each_call_again_on_its_baseline(client: TestClient) -> None:
    assert client.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"}).status_code == 201
    alice, bob = _key(client, "alice", "eng"), _key(client, "bob", "ops")
    automatic = [_chat(client, alice, "auto") for _ in range(2)]
    named = _chat(client, bob, "gpt-4o-mini")

    body = client.get("/api/v1/cost/savings").json()
    assert body["requests"] == 3
    registry = client.app.state.thrifty.registry.get()  # type: ignore[attr-defined]
    baseline_total, actual_total = Decimal(0), Decimal(0)
    for request_id in automatic:
        decision = client.get(f"/api/v1/explainer/request/{request_id}").json()
        eligible = [a for a in decision["alternatives"] if a["eligible"]]
        winner = {"model": decision["selectedModel"], "quality": decision["quality"]}
        best = max([*eligible, winner], key=lambda a: a["quality"])
        row = _usage(client, request_id)
        usage = TokenUsage(row.input_tokens, row.output_tokens, row.cached_input_tokens)
        baseline_total += cost_of(registry.price_of(best["model"], row.created_at).price, usage)
        actual_total += Decimal(row.cost_nano) / 10**9
    row = _usage(client, named)
    baseline_total += Decimal(row.cost_nano) / 10**9  # asked for gpt-4o-mini and got it
    actual_total += Decimal(row.cost_nano) / 10**9
    assert Decimal(body["baselineCost"]) == baseline_total.normalize()
    assert Decimal(body["actualCost"]) == actual_total.normalize()
    assert Decimal(body["savings"]) == (baseline_total - actual_total).normalize()
    assert Decimal(body["savings"]) > 0
    assert Decimal(body["byBasis"]["requested"]["savings"]) == 0
    assert body["byBasis"]["quality_first"]["requests"] == 2

    # What a key sees: bob's own call only; a filter it may not see is a 403 naming it.
    own = client.get("/api/v1/cost/savings", headers={"Authorization": f"Bearer {bob}"}).json()
    assert own["requests"] == 1 and Decimal(own["savings"]) == 0
    refused = client.get("/api/v1/cost/savings", params={"teamId": "eng"},
                         headers={"Authorization": f"Bearer {bob}"})  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"]["param"] == "teamId"
    assert client.get("/api/v1/cost/savings", params={"teamId": "eng"}).json()["requests"] == 2
    tagged = client.get("/api/v1/cost/savings", params={"tag": "x"})
    assert tagged.status_code == 400 and tagged.json()["error"]["param"] == "tag"
