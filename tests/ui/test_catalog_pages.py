"""/models (the registry, its prices and fallback chains) and /rules (the rules in effect and
the rule tester), on the built-in demo configuration."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient
from ui_support import ADMIN_KEY, NOW, Clock, Seeded, csrf_of, ok, sign_in

from thrifty.settings import Settings

CODE_PROMPT = "Write a Python function that sorts a list of numbers"
CODE_RULE = {
    "name": "code-goes-cheap",
    "priority": 10,
    "when": [{"type": "task", "task_type": "code"}],
    "then": [{"type": "select-model", "strategy": "cheapest"}],
}


def model_rows(html: str) -> list[str]:
    return re.findall(r'data-testid="model-row" data-model="([^"]+)"', html)


def trace_of(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="trace-row" data-rule="([^"]+)" data-matched="(\w+)"',
                           html))  # fmt: skip


def submit_tester(pages: TestClient, **fields: str) -> Any:
    """Submit the rule tester with ``fields`` (the page's CSRF token added)."""
    token = csrf_of(pages.get("/rules").text)
    return pages.post("/rules", data={"csrf": token, "model": "auto"} | fields)


def add_rules(seeded: Seeded, *rules: dict[str, Any]) -> None:
    ok(seeded.api.put("/api/v1/rules", json={"rules": list(rules)}))


def test_models_lists_the_registry_with_prices(admin_pages: TestClient) -> None:
    page = admin_pages.get("/models")
    assert page.status_code == 200, page.text
    html = page.text
    assert sorted(model_rows(html)) == sorted([
        "claude-opus-4-1", "claude-sonnet-4-5", "gpt-4o", "claude-haiku-4-5", "gpt-4o-mini",
        "gemini-2.0-flash", "llama-3.1-8b-instant",
    ])  # fmt: skip
    row = re.search(r'data-model="gpt-4o" id="model-gpt-4o">(.*?)</tr>', html, re.S)
    assert row, html
    cells = row.group(1)
    # openai/gpt-4o's catalog prices: $2.50 in, $1.25 cached, $10 out per Mtok.
    assert "$2.50" in cells and "$1.25" in cells and "$10.00" in cells
    assert "128,000" in cells and "simulated" in cells and "tools" in cells
    assert "claude-sonnet-4-5" in cells  # its fallback
    quality = re.search(r'data-testid="quality-row" data-model="llama-3.1-8b-instant">(.*?)</tr>',
                        html, re.S)  # fmt: skip
    assert quality and "0.62" in quality.group(1) and "0.78" in quality.group(1)


def test_models_shows_each_fallback_chain(admin_pages: TestClient) -> None:
    html = admin_pages.get("/models").text
    chain = re.findall(r'data-testid="fallback-row" data-model="gpt-4o-mini" '
                       r'data-fallback="([^"]+)"', html)  # fmt: skip
    assert chain == ["claude-haiku-4-5", "gemini-2.0-flash"]
    assert 'data-model="claude-opus-4-1" data-fallback' not in html
    assert "Without fallbacks:" in html and "llama-3.1-8b-instant" in html


def test_models_is_the_admin_keys(key_pages: Any) -> None:
    page = key_pages("carol").get("/models")
    assert page.status_code == 403
    assert 'data-testid="models-refused"' in page.text and "admin" in page.text
    assert model_rows(page.text) == []


def test_rules_lists_the_rules_in_effect_in_evaluation_order(
    seeded: Seeded, admin_pages: TestClient
) -> None:
    assert "No rules are in effect" in admin_pages.get("/rules").text
    late = {"name": "late", "when": [{"type": "budget", "scope": "team",
                                      "percent_used": {"gte": 70}}],
            "then": [{"type": "deny", "message": "over"}], "enabled": False}  # fmt: skip
    add_rules(seeded, late, CODE_RULE)
    html = admin_pages.get("/rules").text
    rows = re.findall(r'data-testid="rule-row" data-rule="([^"]+)"', html)
    assert rows == ["code-goes-cheap", "late"]  # priority 10 first
    assert "task: task_type [code]" in html and "select-model: strategy cheapest" in html
    assert "budget: scope team, percent_used {gte: 70}" in html and "disabled" in html
    assert ">api<" in html and 'data-testid="rules-last-error"' not in html


def test_the_tester_shows_a_match_and_its_decision(seeded: Seeded, admin_pages: TestClient) -> None:
    add_rules(seeded, CODE_RULE)
    page = submit_tester(admin_pages, message=CODE_PROMPT)
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-testid="tester-result"' in html
    matched = re.search(r'data-testid="tester-matched">(.*?)</p>', html, re.S)
    assert matched and "<code>code-goes-cheap</code>" in matched.group(1)
    assert "strategy cheapest" in matched.group(1)
    assert trace_of(html) == {"code-goes-cheap": "true"}
    # The cheapest demo model wins, and every candidate is listed, without links.
    assert "<strong>llama-3.1-8b-instant</strong>" in html
    candidates = re.findall(r'data-testid="candidate" data-model="([^"]+)"', html)
    assert len(candidates) == 7 and candidates[0] == "llama-3.1-8b-instant"
    result = html[html.index('data-testid="tester-result"') :]
    assert "<a " not in result
    assert CODE_PROMPT in html  # the form keeps what was typed


def test_the_tester_shows_why_a_rule_did_not_match(seeded: Seeded, admin_pages: TestClient) -> None:
    add_rules(seeded, CODE_RULE)
    html = submit_tester(admin_pages, message="Say hello to my friend").text
    assert "No rule matched." in html
    assert trace_of(html) == {"code-goes-cheap": "false"}
    assert "task_type" in html and "not in" in html  # the condition that failed


def test_the_tester_tries_rules_sent_with_the_request(
    seeded: Seeded, admin_pages: TestClient
) -> None:
    add_rules(seeded, CODE_RULE)
    rules = "- name: nothing-on-weekdays\n  when:\n    - {type: tags, any: [batch]}\n" \
            "  then:\n    - {type: deny, message: no batch now}\n"  # fmt: skip
    html = submit_tester(admin_pages, message=CODE_PROMPT, rules=rules, tags="batch, nightly").text
    assert trace_of(html) == {"nothing-on-weekdays": "true"}  # instead of those in effect
    refused = re.search(r'data-testid="tester-refused">(.*?)</p>', html, re.S)
    assert refused and "no batch now" in refused.group(1)
    assert 'data-testid="candidate"' not in html


def test_the_tester_puts_errors_next_to_their_fields(admin_pages: TestClient) -> None:
    bad_rule = submit_tester(
        admin_pages, message="hi", rules='[{"name": "x", "then": [{"type": "nope"}]}]'
    )
    assert bad_rule.status_code == 400
    assert 'id="rules-error"' in bad_rule.text and "unknown action type" in bad_rule.text
    assert "&#34;nope&#34;" in bad_rule.text  # the rules typed are shown again
    not_yaml = submit_tester(admin_pages, message="hi", rules="- name: [x")
    assert not_yaml.status_code == 400 and 'id="rules-error"' in not_yaml.text
    aliased = submit_tester(admin_pages, message="hi", rules="- &r {name: a}\n- *r\n")
    assert aliased.status_code == 400 and "aliases (*name) are not allowed" in aliased.text
    not_json = submit_tester(admin_pages, message="hi", metadata='{"team": ')
    assert not_json.status_code == 400
    assert 'id="metadata-error"' in not_json.text and "not valid JSON" in not_json.text
    not_object = submit_tester(admin_pages, message="hi", metadata="[1, 2]")
    assert not_object.status_code == 422
    assert 'id="metadata-error"' in not_object.text and "dictionary" in not_object.text
    zero = submit_tester(admin_pages, message="hi", max_tokens="0")
    assert zero.status_code == 422 and 'id="max_tokens-error"' in zero.text
    assert 'aria-invalid="true"' in zero.text
    quality = submit_tester(admin_pages, message="hi", quality="superb")
    assert quality.status_code == 400 and 'id="quality-error"' in quality.text
    empty = submit_tester(admin_pages, message="")
    assert empty.status_code == 400 and 'id="message-error"' in empty.text
    for page in (bad_rule, not_json, zero):
        assert 'data-testid="tester-result"' not in page.text


def test_a_key_tests_for_its_own_chain(seeded: Seeded, key_pages: Any) -> None:
    bob = key_pages("bob")
    form = bob.get("/rules").text
    assert 'name="as_user"' not in form  # only the admin key names whose chain
    html = submit_tester(bob, message=CODE_PROMPT).text
    assert 'data-testid="tester-result"' in html and "There were no rules to evaluate" in html
    assert 'data-testid="candidate"' in html
    # A model the key may not use is refused next to the model field.
    body = {"user_id": "bob", "name": "narrow", "allowed_models": ["gpt-4o-mini"]}
    narrow = ok(seeded.api.post("/api/v1/keys", json=body), 201)
    pages = sign_in(TestClient(seeded.api.app, follow_redirects=False), narrow["secret"])
    offered = re.findall(r'<option value="([^"]+)"', pages.get("/rules").text)
    assert "gpt-4o-mini" in offered and "gpt-4o" not in offered
    refused = submit_tester(pages, model="gpt-4o", message="hi")
    assert refused.status_code == 403
    assert 'id="model-error"' in refused.text and "may not use" in refused.text
    pages.close()


def test_the_tester_needs_the_csrf_token(admin_pages: TestClient) -> None:
    refused = admin_pages.post("/rules", data={"model": "auto", "message": "hi"})
    assert refused.status_code == 403 and "CSRF" in refused.text


def test_a_failed_reload_is_shown_prominently(database_url: str, tmp_path: Path) -> None:
    from thrifty.app import create_app

    demo = resources.files("thrifty.config").joinpath("demo.yaml").read_text("utf-8")
    config = tmp_path / "thrifty.yaml"
    config.write_text(demo + "\nrules:\n  - name: from-the-file\n    then:\n"
                      "      - {type: select-model, strategy: cheapest}\n")  # fmt: skip
    app = create_app(Settings(database_url=database_url, admin_key=ADMIN_KEY,
                              config=str(config)), clock=Clock(NOW))  # fmt: skip
    with TestClient(app, follow_redirects=False) as pages:
        sign_in(pages, ADMIN_KEY)
        html = pages.get("/rules").text
        assert 'data-rule="from-the-file"' in html and ">config<" in html
        assert str(config) in html
        config.write_text(demo + "\nrules:\n  - name: broken\n    then: [{type: nope}]\n")
        reload = pages.post(
            "/api/v1/rules/reload", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert reload.status_code == 400
        html = pages.get("/rules").text
        assert 'data-testid="rules-last-error"' in html and "unknown action type" in html
        assert 'data-rule="from-the-file"' in html  # the rules from before stay in effect
