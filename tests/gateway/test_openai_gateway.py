"""The official ``openai`` SDK against the gateway, backed by the built-in simulated provider."""

from __future__ import annotations

from decimal import Decimal

import httpx
import openai
import pytest
from gateway_support import Gateway

from thrifty.pricing.tokens import count_chat

MESSAGES = [
    {"role": "system", "content": "You are brief."},
    {"role": "user", "content": "Explain what a budget hold is in one sentence."},
]


def sdk(gateway: Gateway) -> openai.OpenAI:
    return gateway.openai(max_retries=0)


def test_chat_completion_is_priced_recorded_and_explained(gateway: Gateway) -> None:
    raw = sdk(gateway).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=100
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.model == "gpt-4o-mini"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == count_chat(MESSAGES, "gpt-4o-mini").tokens
    cost = Decimal(raw.headers["x-thrifty-cost-usd"])
    expected = (
        Decimal(completion.usage.prompt_tokens) * Decimal("0.15")
        + Decimal(completion.usage.completion_tokens) * Decimal("0.6")
    ) / 1_000_000
    assert cost == expected
    assert raw.headers["x-thrifty-model"] == "gpt-4o-mini"
    records = gateway.usage()
    assert len(records) == 1
    record = records[0]
    assert record["request_id"] == raw.headers["x-thrifty-request-id"]
    assert record["cost_nano"] == int(expected * 1_000_000_000)
    assert (record["user_id"], record["team_id"], record["org_id"]) == ("ann", "eng", "acme")
    assert record["input_tokens"] == completion.usage.prompt_tokens
    assert record["estimated"] == 0


def test_streaming_with_usage_carries_the_cost(gateway: Gateway) -> None:
    stream = sdk(gateway).chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = [], None
    for chunk in stream:
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
        if chunk.usage is not None:
            usage = chunk.usage
    assert "".join(text)
    assert usage is not None
    cost = Decimal(str(usage.model_extra["cost_usd"]))
    records = gateway.usage()
    assert len(records) == 1 and records[0]["cost_nano"] == int(cost * 1_000_000_000)
    assert records[0]["output_tokens"] == usage.completion_tokens


def test_models_lists_what_the_key_may_use(gateway: Gateway) -> None:
    models = {m.id for m in sdk(gateway).models.list()}
    assert {"gpt-4o", "gpt-4o-mini", "claude-haiku-4-5"} <= models


def test_budget_refusal_is_a_402_naming_the_budget(gateway: Gateway) -> None:
    gateway.budget("team", "eng", "0.000001")
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(gateway).chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=50)
    assert caught.value.status_code == 402
    error = caught.value.body
    assert isinstance(error, dict)
    assert "team eng" in str(error) or error.get("budget_id")
    assert gateway.usage() == []  # refused before any upstream call


def test_bad_requests_get_openai_shaped_4xx(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {gateway.key}", "content-type": "application/json"}
    url = f"{gateway.v1}/chat/completions"
    cases = [
        (b"{not json", 400, "body"),
        (b'{"model": "gpt-4o"}', 400, "messages"),
        (b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', 404, "model"),
        (b'{"model": "gpt-4o", "messages": [{"content": "x"}]}', 400, "messages.0.role"),
        (
            b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}],'
            b' "max_tokens": -1}',
            400,
            "max_tokens",
        ),
    ]
    for body, status, param in cases:
        response = httpx.post(url, content=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["param"] == param
    assert httpx.post(url, content=b"{}").status_code == 401
    admin = {"Authorization": "Bearer test-admin-key"}
    assert (
        httpx.post(url, json={"model": "gpt-4o", "messages": MESSAGES}, headers=admin).status_code
        == 401
    )
    assert gateway.usage() == []
