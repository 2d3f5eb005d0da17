"""/decisions: the recent selections, the search by request id and one decision's explanation,
for decisions made by real requests through the gateway (the demo's simulated provider)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from starlette.testclient import TestClient
from ui_support import NOW, Seeded, ok

CODE_PROMPT = "Write a Python function that sorts a list of numbers"
DEMO_MODELS = 7  # src/thrifty/config/demo.yaml


def chat(seeded: Seeded, user: str, content: str = CODE_PROMPT) -> str:
    """One automatic selection through the gateway as ``user``; its request id."""
    response = seeded.api.post(
        "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": content}]},
        headers={"Authorization": f"Bearer {seeded.keys[user]}"},
    )
    assert response.status_code == 200, response.text
    return str(response.headers["x-thrifty-request-id"])


def decision_of(seeded: Seeded, request_id: str) -> dict[str, Any]:
    return dict(ok(seeded.api.get(f"/api/v1/explainer/request/{request_id}")))


def candidate_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-testid="candidate" data-model="([^"]+)"', html)


def test_the_list_shows_gateway_decisions_newest_first(
    seeded: Seeded, admin_pages: TestClient
) -> None:
    first = chat(seeded, "alice")
    seeded.clock.now = NOW + timedelta(minutes=5)
    second = chat(seeded, "bob", "Say hello")
    page = admin_pages.get("/decisions")
    assert page.status_code == 200, page.text
    html = page.text
    rows = re.findall(r'data-testid="decision-row" data-request-id="([^"]+)"', html)
    assert rows == [second, first]
    assert "2026-11-20 12:05 UTC" in html
    decision = decision_of(seeded, first)
    assert f'href="/decisions/{decision["id"]}"' in html
    assert decision["selectedModel"] in html and "cost-aware" in html and "code" in html


def test_the_model_filter_keeps_only_that_models_decisions(
    seeded: Seeded, admin_pages: TestClient
) -> None:
    request_id = chat(seeded, "alice")
    chosen = decision_of(seeded, request_id)["selectedModel"]
    other = next(m for m in ("llama-3.1-8b-instant", "claude-opus-4-1") if m != chosen)
    assert request_id in admin_pages.get("/decisions", params={"model": chosen}).text
    filtered = admin_pages.get("/decisions", params={"model": other}).text
    assert request_id not in filtered and "that chose this model" in filtered


def test_searching_a_request_id_opens_its_explanation(
    seeded: Seeded, admin_pages: TestClient
) -> None:
    request_id = chat(seeded, "alice")
    decision = decision_of(seeded, request_id)
    page = admin_pages.get("/decisions", params={"request_id": f" {request_id} "})
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-testid="explanation"' in html and f'data-request-id="{request_id}"' in html
    models = candidate_rows(html)
    assert len(models) == DEMO_MODELS
    assert models[0] == decision["selectedModel"]
    assert sorted(models[1:]) == sorted(a["model"] for a in decision["alternatives"])
    winner = re.search(r'<tr data-testid="candidate"[^>]*data-winner="true"[^>]*>', html)
    assert winner and 'class="winner"' in winner.group(0)
    assert html.count('data-winner="true"') == 1 and html.count('data-testid="winner-mark"') == 1
    # The explanation's parts: profile, quality requirement, budgets, chain, losses.
    assert "Task type" in html and ">code<" in html
    assert "95% of the best eligible" in html and ">default<" in html  # the requirement's source
    assert "alice-monthly" in html and "eng-monthly" in html  # alice's chain's budgets
    for model in decision["chain"]:
        assert f"<code>{model}</code>" in html
    loser = decision["alternatives"][0]
    assert loser["reason"] in html


def test_the_decision_page_and_the_list_link_agree(seeded: Seeded, admin_pages: TestClient) -> None:
    request_id = chat(seeded, "alice")
    decision = decision_of(seeded, request_id)
    page = admin_pages.get(f"/decisions/{decision['id']}")
    assert page.status_code == 200, page.text
    assert f'data-decision-id="{decision["id"]}"' in page.text
    assert len(candidate_rows(page.text)) == DEMO_MODELS


def test_an_unknown_request_id_is_reported_on_the_page(admin_pages: TestClient) -> None:
    page = admin_pages.get("/decisions", params={"request_id": "req_nothing"})
    assert page.status_code == 404
    html = page.text
    assert 'data-testid="not-found"' in html and "req_nothing" in html
    assert 'name="request_id"' in html and 'data-testid="decisions-table"' in html
    assert "the request was refused" not in html  # not the error page


def test_a_too_long_request_id_is_refused_next_to_the_field(admin_pages: TestClient) -> None:
    page = admin_pages.get("/decisions", params={"request_id": "r" * 200})
    assert page.status_code == 422
    assert 'id="request_id-error"' in page.text and 'aria-invalid="true"' in page.text


def test_a_key_sees_only_the_decisions_it_may_see(seeded: Seeded, key_pages: Any) -> None:
    alices = chat(seeded, "alice")
    bobs = chat(seeded, "bob", "Say hello")
    bob = key_pages("bob")
    listed = bob.get("/decisions").text
    assert bobs in listed and alices not in listed
    # Alice's decision, by request id or by decision id, is "not found" for bob.
    searched = bob.get("/decisions", params={"request_id": alices})
    assert searched.status_code == 404 and 'data-testid="not-found"' in searched.text
    assert 'data-testid="explanation"' not in searched.text
    page = bob.get(f"/decisions/{decision_of(seeded, alices)['id']}")
    assert page.status_code == 404 and 'data-testid="explanation"' not in page.text
    # Carol, alice's org admin, sees it.
    carol = key_pages("carol").get("/decisions", params={"request_id": alices})
    assert carol.status_code == 200 and 'data-testid="explanation"' in carol.text


def test_the_rules_that_applied_are_shown(seeded: Seeded, admin_pages: TestClient) -> None:
    ok(seeded.api.put("/api/v1/rules", json={"rules": [
        {"name": "code-goes-cheap", "when": [{"type": "task", "task_type": "code"}],
         "then": [{"type": "select-model", "strategy": "cheapest"}]},
        {"name": "never-math", "when": [{"type": "task", "task_type": "math"}],
         "then": [{"type": "deny"}]},
    ]}))  # fmt: skip
    request_id = chat(seeded, "alice")
    html = admin_pages.get("/decisions", params={"request_id": request_id}).text
    assert 'data-testid="rules-applied"' in html and "<code>code-goes-cheap</code>" in html
    assert "strategy cheapest" in html
    trace = dict(re.findall(r'data-rule="([^"]+)" data-matched="(true|false)"', html))
    assert trace == {"code-goes-cheap": "true", "never-math": "false"}
    assert "lowest expected cost" in html  # the cheapest strategy's reason for the winner
