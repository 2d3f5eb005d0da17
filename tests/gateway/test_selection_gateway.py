"""Selection end to end through the gateway: ``model: auto``, aliases, rules substituting a
requested model, budget thresholds steering towards cheaper models, and the stored explanation
of each decision — with the official SDKs as clients and the built-in simulated upstream."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from gateway_support import ADMIN, Gateway, provision, serve

from thrifty.settings import Settings

CONFIG = textwrap.dedent(
    """\
    providers:
      - {name: sim, kind: simulated}
    models:
      - id: big
        provider: sim
        price: {input_per_mtok: 10, output_per_mtok: 30}
        context_window: 100000
        capabilities: [tools, json]
        quality: {default: 0.95, code: 0.97}
      - id: mid
        provider: sim
        price: {input_per_mtok: 1, output_per_mtok: 3}
        context_window: 100000
        capabilities: [tools, json]
        quality: {default: 0.93, code: 0.85}
      - id: small
        provider: sim
        price: {input_per_mtok: 0.1, output_per_mtok: 0.3}
        context_window: 100000
        capabilities: [json]
        quality: {default: 0.80, code: 0.60, classification: 0.95}
    aliases:
      - {name: cheap, strategy: cheapest}
    selection: {exploration: 0}  # no posterior draws: the choices below are deterministic
    rules:
      - name: classify-on-small
        priority: 50
        when:
          - {type: task, task_type: classification}
        then:
          - {type: route-to, model: small}
      - name: no-secrets
        priority: 100
        when:
          - {type: metadata, key: project, equals: secret}
        then:
          - {type: deny, message: this project may not call models}
      - name: tag-code
        when:
          - {type: task, task_type: code}
        then:
          - {type: tag, tags: [code-work]}
      - name: short-when-team-half-spent
        when:
          - {type: budget, scope: team, percent_used: {gte: 50}}
        then:
          - {type: set-max-tokens, max_tokens: 8}
      - name: bulk-needs-approval
        when:
          - {type: tags, any: [bulk]}
        then:
          - {type: require-approval, message: bulk jobs need an approved override}
    """
)


@pytest.fixture
def gateway(database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    path = tmp_path / "thrifty.yaml"
    path.write_text(CONFIG)
    settings = Settings(database_url=database_url, admin_key=ADMIN, config=str(path))
    for url in serve(settings):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            yield Gateway(url, provision(admin), admin, database_url)


@pytest.fixture
def client(gateway: Gateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.v1, api_key=gateway.key) as sdk:
        yield sdk


def _explain(gateway: Gateway, request_id: str) -> dict:
    response = gateway.admin.get(f"/api/v1/explainer/request/{request_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_auto_is_answered_by_the_chosen_model_and_explained(
    gateway: Gateway, client: openai.OpenAI
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Hello there, how are you?"}]
    )
    reply = raw.parse()
    request_id = raw.headers["x-thrifty-request-id"]
    explanation = _explain(gateway, request_id)
    # chat quality: big 0.95, mid 0.93, small 0.80; medium requires 95% of 0.95 = 0.9025.
    assert reply.model == raw.headers["x-thrifty-model"] == explanation["selectedModel"] == "mid"
    assert explanation["id"] == raw.headers["x-thrifty-decision-id"]
    assert explanation["strategy"] == "cost-aware"
    assert explanation["profile"]["taskType"] == "chat"
    reasons = {a["model"]: a["reason"] for a in explanation["alternatives"]}
    assert reasons["small"].startswith("quality below requirement")
    assert reasons["big"] == "costs more than mid"
    assert explanation["chain"][0] == "mid"
    by_id = gateway.admin.get(f"/api/v1/explainer/{explanation['id']}")
    assert by_id.json()["requestId"] == request_id
    recent = gateway.admin.get("/api/v1/explainer/recent").json()["decisions"]
    assert [d["requestId"] for d in recent] == [request_id]
    stats = gateway.admin.get("/api/v1/explainer/stats").json()
    assert stats["wins"] == [{"model": "mid", "count": 1, "share": 1.0}]
    assert stats["losses"]["small"] == {"quality below requirement": 1}
    assert stats["losses"]["big"] == {"costs more": 1}
    # The key's own user sees its decision; another team's key does not.
    mine = httpx.get(
        f"{gateway.url}/api/v1/explainer/request/{request_id}",
        headers={"Authorization": f"Bearer {gateway.key}"},
    )
    assert mine.status_code == 200
    for path, body in (
        ("/api/v1/teams", {"id": "ops", "org_id": "acme", "name": "Ops"}),
        ("/api/v1/users", {"id": "bob", "team_id": "ops", "name": "Bob"}),
    ):
        assert gateway.admin.post(path, json=body).status_code == 201
    other = gateway.admin.post("/api/v1/keys", json={"user_id": "bob", "name": "b"}).json()
    hidden = httpx.get(
        f"{gateway.url}/api/v1/explainer/request/{request_id}",
        headers={"Authorization": f"Bearer {other['secret']}"},
    )
    assert hidden.status_code == 404


def test_models_lists_auto_and_aliases(gateway: Gateway, client: openai.OpenAI) -> None:
    names = {m.id for m in client.models.list()}
    assert names == {"big", "mid", "small", "auto", "cheap"}


def test_quality_header_and_alias(gateway: Gateway, client: openai.OpenAI) -> None:
    message = [{"role": "user", "content": "Hello there"}]
    high = client.chat.completions.with_raw_response.create(
        model="auto", messages=message, extra_headers={"x-thrifty-quality": "high"}
    )
    assert high.headers["x-thrifty-model"] == "big"  # 0.99 × 0.95 > 0.93
    low = client.chat.completions.with_raw_response.create(
        model="auto", messages=message, extra_headers={"x-thrifty-quality": "0.8"}
    )
    assert low.headers["x-thrifty-model"] == "small"
    cheap = client.chat.completions.with_raw_response.create(model="cheap", messages=message)
    assert cheap.headers["x-thrifty-model"] == "small"
    bad = httpx.post(
        f"{gateway.v1}/chat/completions",
        headers={"Authorization": f"Bearer {gateway.key}", "x-thrifty-quality": "hgh"},
        json={"model": "auto", "messages": message},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "x-thrifty-quality"


def test_rules_route_deny_and_tag(gateway: Gateway, client: openai.OpenAI) -> None:
    routed = client.chat.completions.with_raw_response.create(
        model="big",
        messages=[{"role": "user", "content": "Classify the sentiment of: I love it"}],
    )
    assert routed.headers["x-thrifty-model"] == "small"
    explanation = _explain(gateway, routed.headers["x-thrifty-request-id"])
    assert explanation["rules"]["matched"] == ["classify-on-small"]
    with pytest.raises(openai.PermissionDeniedError) as denied:
        client.chat.completions.create(
            model="big",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-thrifty-metadata": '{"project": "secret"}'},
        )
    assert "no-secrets" in str(denied.value)
    coded = client.chat.completions.with_raw_response.create(
        model="mid",
        messages=[{"role": "user", "content": "Write a python function that reverses a list"}],
    )
    request_id = coded.headers["x-thrifty-request-id"]
    record = next(u for u in gateway.usage() if u["request_id"] == request_id)
    assert "code-work" in record["tags"]


def test_budget_at_seventy_percent_prefers_cheaper_models(
    gateway: Gateway, client: openai.OpenAI
) -> None:
    budget = gateway.budget("team", "eng", "1.00")
    message = [{"role": "user", "content": "Hello there"}]
    first = client.chat.completions.with_raw_response.create(model="big", messages=message)
    assert first.headers["x-thrifty-model"] == "big"  # the requested model, below 70%
    # Spend 75% of the budget through the ledger API, then ask for the big model again.
    hold = gateway.admin.post(
        "/api/v1/ledger/holds",
        json={"request_id": "spend", "principal": {"team_id": "eng"}, "amount": "0.75",
              "ttl_s": 60},
    )  # fmt: skip
    assert hold.status_code == 201, hold.text
    settle = gateway.admin.post("/api/v1/ledger/holds/spend/settle", json={"actual_cost": "0.75"})
    assert settle.status_code == 200, settle.text
    import time

    time.sleep(1.1)  # the steering snapshot of budget states lives one second
    second = client.chat.completions.with_raw_response.create(model="big", messages=message)
    assert second.headers["x-thrifty-model"] == "mid"  # 0.93 ≥ (0.95 − 0.02) × 0.95
    explanation = _explain(gateway, second.headers["x-thrifty-request-id"])
    assert explanation["modelDowngrading"] == "prefer"
    assert explanation["budgetImpact"][0]["budgetId"] == budget["id"]


def test_anthropic_sdk_with_auto(gateway: Gateway) -> None:
    with anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key) as sdk:
        raw = sdk.messages.with_raw_response.create(
            model="auto", max_tokens=50, messages=[{"role": "user", "content": "Hello there"}]
        )
    message = raw.parse()
    assert message.model == raw.headers["x-thrifty-model"] == "mid"
    assert _explain(gateway, raw.headers["x-thrifty-request-id"])["selectedModel"] == "mid"


def test_feedback_moves_quality(gateway: Gateway, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="mid", messages=[{"role": "user", "content": "Hello there"}]
    )
    request_id = raw.headers["x-thrifty-request-id"]
    headers = {"Authorization": f"Bearer {gateway.key}"}
    response = httpx.post(
        f"{gateway.url}/api/v1/feedback", headers=headers,
        json={"request_id": request_id, "score": 0},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json() == {
        "requestId": request_id, "model": "mid", "taskType": "chat", "score": "0"
    }  # fmt: skip
    unknown = httpx.post(
        f"{gateway.url}/api/v1/feedback", headers=headers,
        json={"request_id": "req_nope", "score": 1},
    )  # fmt: skip
    assert unknown.status_code == 404
    bad = httpx.post(
        f"{gateway.url}/api/v1/feedback", headers=headers,
        json={"request_id": request_id, "score": 1.5},
    )  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["param"] == "score"


def _spend(gateway: Gateway, amount: str) -> None:
    """Post ``amount`` to the team's budgets through the ledger API."""
    hold = gateway.admin.post(
        "/api/v1/ledger/holds",
        json={"request_id": f"spend-{amount}", "principal": {"team_id": "eng"}, "amount": amount,
              "ttl_s": 60},
    )  # fmt: skip
    assert hold.status_code == 201, hold.text
    settle = gateway.admin.post(
        f"/api/v1/ledger/holds/spend-{amount}/settle", json={"actual_cost": amount}
    )
    assert settle.status_code == 200, settle.text


def test_budget_condition_caps_max_tokens(gateway: Gateway, client: openai.OpenAI) -> None:
    gateway.budget("team", "eng", "1.00", thresholds=[{"percent": 90, "actions": ["notify"]}])
    message = [{"role": "user", "content": "Tell me about the sea"}]
    before = client.chat.completions.create(model="mid", messages=message, max_tokens=100)
    assert before.usage is not None and before.usage.completion_tokens > 8
    _spend(gateway, "0.60")
    import time

    time.sleep(1.1)  # the steering snapshot of budget states lives one second
    raw = client.chat.completions.with_raw_response.create(
        model="mid", messages=message, max_tokens=100
    )
    usage = raw.parse().usage
    assert usage is not None and usage.completion_tokens <= 8
    explanation = _explain(gateway, raw.headers["x-thrifty-request-id"])
    assert explanation["rules"]["maxTokens"] == 8
    assert "short-when-team-half-spent" in explanation["rules"]["matched"]


def test_require_approval_until_an_override_is_approved(
    gateway: Gateway, client: openai.OpenAI
) -> None:
    budget = gateway.budget("team", "eng", "10.00")
    message = [{"role": "user", "content": "Hello"}]
    bulk = {"x-thrifty-tags": "bulk", "x-thrifty-priority": "critical"}
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model="mid", messages=message, extra_headers=bulk)
    assert "bulk jobs need an approved override" in str(refused.value)
    override = gateway.admin.post(
        "/api/v1/overrides",
        json={"budget_id": budget["id"], "amount": "1", "reason": "backfill",
              "expires_at": "2099-01-01T00:00:00+00:00"},
    )  # fmt: skip
    assert override.status_code == 201, override.text
    approved = gateway.admin.post(
        f"/api/v1/overrides/{override.json()['id']}/approve", json={"reason": "ok"}
    )
    assert approved.status_code == 200, approved.text
    import time

    time.sleep(1.1)
    answered = client.chat.completions.with_raw_response.create(
        model="mid", messages=message, extra_headers=bulk
    )
    assert answered.headers["x-thrifty-model"] == "mid"
    with pytest.raises(openai.PermissionDeniedError):  # a normal-priority bulk request: still no
        client.chat.completions.create(
            model="mid", messages=message, extra_headers={"x-thrifty-tags": "bulk"}
        )


def test_a_named_model_a_budget_excludes_gets_the_ledgers_402(
    gateway: Gateway, client: openai.OpenAI
) -> None:
    # Only an approval threshold (on the user: the team's budget would trigger a rule): no
    # downgrading, so the named model is passed through and the ledger refuses it.
    thresholds = [{"percent": 50, "actions": ["require-approval"]}]
    gateway.budget("user", "ann", "1.00", thresholds=thresholds)
    hold = gateway.admin.post(
        "/api/v1/ledger/holds",
        json={"request_id": "ann-spend", "principal": {"user_id": "ann"}, "amount": "0.90",
              "ttl_s": 60},
    )  # fmt: skip
    assert hold.status_code == 201, hold.text
    import time

    time.sleep(1.1)  # the steering snapshot of budget states lives one second
    message = [{"role": "user", "content": "Hello"}]
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="big", messages=message, max_tokens=4000)
    assert refused.value.status_code == 402
    assert "need an approved override" in str(refused.value)
    small = client.chat.completions.with_raw_response.create(
        model="big", messages=message, max_tokens=10
    )
    assert small.headers["x-thrifty-model"] == "big"  # under the approval bar: through
