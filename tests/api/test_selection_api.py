"""The selection API, fallback chains, the explainer, feedback and the rules API."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from thrifty.settings import Settings

ADMIN_KEY = "test-admin-key"
HELLO = {"model": "auto", "messages": [{"role": "user", "content": "Hello, how are you?"}]}


def _key(client: TestClient) -> dict[str, str]:
    for path, body in (
        ("/api/v1/orgs", {"id": "acme", "name": "Acme"}),
        ("/api/v1/teams", {"id": "eng", "org_id": "acme", "name": "Eng"}),
        ("/api/v1/users", {"id": "ann", "team_id": "eng", "name": "Ann"}),
    ):
        assert client.post(path, json=body).status_code == 201
    key = client.post(
        "/api/v1/keys",
        json={"user_id": "ann", "name": "k", "routing": {"strategy": "cheapest"}},
    )
    assert key.status_code == 201, key.text
    assert key.json()["routing"] == {"strategy": "cheapest"}
    bad = client.post(
        "/api/v1/keys", json={"user_id": "ann", "name": "k2", "routing": {"quality": "hgh"}}
    )
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "routing.quality"
    return {"Authorization": f"Bearer {key.json()['secret']}"}


def test_select_explains_every_alternative(client: TestClient) -> None:
    response = client.post("/api/v1/models/select", json={"request": HELLO})
    assert response.status_code == 200, response.text
    body = response.json()
    alternatives = {a["model"]: a for a in body["alternatives"]}
    assert body["selectedModel"] not in alternatives
    assert len(alternatives) == 6  # the demo's seven models
    assert body["strategy"] == "cost-aware" and body["qualitySource"] == "default"
    for alternative in alternatives.values():
        assert alternative["reason"]
        assert alternative["costDifference"] is not None
    assert body["profile"]["taskType"] == "chat"
    assert body["estimatedCost"] and body["budgetImpact"] == []
    # An API key's own routing defaults apply: this one selects the cheapest.
    mine = client.post("/api/v1/models/select", json={"request": HELLO}, headers=_key(client))
    assert mine.json()["strategy"] == "cheapest"
    assert mine.json()["selectedModel"] == "llama-3.1-8b-instant"


def test_select_capabilities_and_bad_input(client: TestClient) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = {"request": {**HELLO, "tools": tools}, "quality": "low"}
    response = client.post("/api/v1/models/select", json=body).json()
    reasons = {a["model"]: a["reason"] for a in response["alternatives"]}
    assert reasons["llama-3.1-8b-instant"] == "no tools support"
    bad = client.post("/api/v1/models/select", json={"request": HELLO, "quality": "best"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-thrifty-quality"
    unknown = client.post("/api/v1/models/select", json={"request": {**HELLO, "model": "gpt-9"}})
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "model"
    missing = client.post("/api/v1/models/select", json={"request": {"model": "auto"}})
    assert missing.status_code == 422 and "messages" in missing.json()["error"]["param"]


def test_fallback_chains(client: TestClient) -> None:
    chain = client.get("/api/v1/models/fallbacks/gpt-4o-mini").json()
    assert [f["model"] for f in chain["fallbacks"]] == ["claude-haiku-4-5", "gemini-2.0-flash"]
    assert chain["fallbacks"][0] == {
        "position": 1, "model": "claude-haiku-4-5", "provider": "simulated",
        "registered": True, "allowed": True,
    }  # fmt: skip
    assert client.get("/api/v1/models/fallbacks/nope").status_code == 404


def test_explainer_without_decisions(client: TestClient) -> None:
    assert client.get("/api/v1/explainer/dec_nope").status_code == 404
    assert client.get("/api/v1/explainer/request/req_nope").status_code == 404
    assert client.get("/api/v1/explainer/recent").json() == {"decisions": []}
    stats = client.get("/api/v1/explainer/stats").json()
    assert stats["decisions"] == 0 and stats["wins"] == []
    assert client.get("/api/v1/explainer/recent?limit=0").status_code == 422


RULE = {
    "name": "summaries-cheap",
    "when": [{"type": "task", "task_type": "summarisation"}],
    "then": [{"type": "select-model", "strategy": "cheapest"}],
}


def test_stored_rules_and_the_tester(client: TestClient) -> None:
    assert client.get("/api/v1/rules").json()["rules"] == []
    stored = client.put("/api/v1/rules", json={"rules": [RULE]})
    assert stored.status_code == 200, stored.text
    assert [(r["name"], r["source"]) for r in stored.json()["rules"]] == [
        ("summaries-cheap", "api")
    ]
    summary = {
        "request": {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "Summarize this memo: we ship Monday."}],
        }
    }
    tested = client.post("/api/v1/rules/test", json=summary).json()
    assert tested["matched"] == ["summaries-cheap"]
    assert tested["selectedModel"] == "llama-3.1-8b-instant"
    assert tested["trace"][0]["applied"] == ["select-model"]
    other = client.post("/api/v1/rules/test", json={"request": {**HELLO, "model": "gpt-4o"}})
    assert other.json()["matched"] == [] and other.json()["selectedModel"] == "gpt-4o"
    assert other.json()["trace"][0]["failed"]
    deny = {"name": "no", "then": [{"type": "deny", "message": "closed"}]}
    refused = client.post("/api/v1/rules/test", json={**summary, "rules": [deny]}).json()
    assert refused["selectedModel"] is None and "closed" in refused["refused"]


def test_bad_rules_are_refused_naming_rule_and_key(client: TestClient) -> None:
    typo = {**RULE, "when": [{"type": "task", "task_typ": "code"}]}
    response = client.put("/api/v1/rules", json={"rules": [typo]})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "summaries-cheap" in message and "task_typ" in message
    unknown = {**RULE, "then": [{"type": "route-to", "model": "gpt-9"}]}
    assert (
        "gpt-9" in client.put("/api/v1/rules", json={"rules": [unknown]}).json()["error"]["message"]
    )
    assert client.get("/api/v1/rules").json()["rules"] == []  # nothing was stored
    forbidden = client.put("/api/v1/rules", json={"rules": [RULE]}, headers=_key(client))
    assert forbidden.status_code == 403


CONFIG = textwrap.dedent(
    """\
    providers:
      - {name: sim, kind: simulated}
    models:
      - {id: a, provider: sim, price: {input_per_mtok: 1, output_per_mtok: 2},
         context_window: 100000, quality: {default: 0.9}}
    rules:
      - name: first
        then: [{type: tag, tags: [one]}]
    """
)


@pytest.fixture
def file_client(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    from thrifty.app import create_app

    path = tmp_path / "thrifty.yaml"
    path.write_text(CONFIG)
    app = create_app(Settings(database_url=database_url, admin_key=ADMIN_KEY, config=str(path)))
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        yield client, path


def _names(client: TestClient) -> list[str]:
    return [rule["name"] for rule in client.get("/api/v1/rules").json()["rules"]]


def test_rules_reload_on_file_change_and_on_request(
    file_client: tuple[TestClient, Path],
) -> None:
    client, path = file_client
    assert _names(client) == ["first"]
    path.write_text(CONFIG.replace("name: first", "name: second"))
    deadline = time.monotonic() + 5
    while _names(client) != ["second"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _names(client) == ["second"]  # picked up without a restart
    path.write_text(CONFIG.replace("then: [{type: tag", "then: [{type: tagg"))
    reload = client.post("/api/v1/rules/reload")
    assert reload.status_code == 400
    assert "thrifty.yaml:" in reload.json()["error"]["message"]
    assert _names(client) == ["second"]  # a broken file keeps the rules in effect
    assert client.get("/api/v1/rules").json()["lastError"]
    path.write_text(CONFIG.replace("name: first", "name: third"))
    assert client.post("/api/v1/rules/reload").status_code == 200
    assert _names(client) == ["third"]


def test_the_tester_with_time_and_principal_conditions(client: TestClient) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)

    def window(start: timedelta, end: timedelta) -> list[str]:
        return [(now + start).strftime("%H:%M"), (now + end).strftime("%H:%M")]

    rules = [
        {"name": "now", "when": [{"type": "time", "between": window(timedelta(hours=-1),
                                                                      timedelta(hours=1))}],
         "then": [{"type": "tag", "tags": ["now"]}]},
        {"name": "later", "when": [{"type": "time", "between": window(timedelta(hours=2),
                                                                        timedelta(hours=3))}],
         "then": [{"type": "tag", "tags": ["later"]}]},
        {"name": "eng", "when": [{"type": "principal", "team": "eng"}],
         "then": [{"type": "route-to", "model": "gpt-4o-mini"}]},
    ]  # fmt: skip
    body = {"request": {**HELLO, "model": "gpt-4o"}, "rules": rules}
    as_admin = client.post("/api/v1/rules/test", json=body).json()
    assert as_admin["matched"] == ["now"] and as_admin["selectedModel"] == "gpt-4o"
    as_eng = client.post("/api/v1/rules/test", json=body, headers=_key(client)).json()
    assert as_eng["matched"] == ["now", "eng"] and as_eng["selectedModel"] == "gpt-4o-mini"
    assert as_eng["directive"]["tags"] == ["now"]
