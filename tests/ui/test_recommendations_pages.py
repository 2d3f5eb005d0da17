"""``/recommendations``: the API's ranked recommendations with their savings and total, the
workload repriced on other models, refused filters next to their fields, and a member's view."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient
from ui_support import NOW, Seeded, ok

WINDOW = {"start": "2026-10-22T00:00:00+00:00", "end": "2026-11-21T00:00:00+00:00"}


@pytest.fixture
def unbudgeted(seeded: Seeded) -> Seeded:
    """A key in an organisation without budgets, spending on gpt-4o: a key without a budget,
    and a workload to reprice."""
    api = seeded.api
    ok(api.post("/api/v1/orgs", json={"id": "solo", "name": "Solo"}), 201)
    ok(api.post("/api/v1/teams", json={"id": "solo-team", "org_id": "solo", "name": "S"}), 201)
    ok(api.post("/api/v1/users", json={"id": "sam", "team_id": "solo-team", "name": "Sam",
                                       "role": "member"}), 201)  # fmt: skip
    key = ok(api.post("/api/v1/keys", json={"user_id": "sam", "name": "sam-key"}), 201)
    seeded.keys["sam"], seeded.key_ids["sam"] = key["secret"], key["id"]
    hold = {"request_id": "sam-1", "amount": "3", "principal": {"key_id": key["id"]},
            "model": "gpt-4o"}  # fmt: skip
    ok(api.post("/api/v1/ledger/holds", json=hold), 201)
    usage = {"model": "gpt-4o", "input_tokens": 20_000, "output_tokens": 4_000}
    ok(api.post("/api/v1/ledger/holds/sam-1/settle", json={"actual_cost": "3", "usage": usage}))
    assert seeded.clock.now == NOW
    return seeded


def test_the_recommendations_are_the_apis(admin_pages: TestClient, unbudgeted: Seeded) -> None:
    page = admin_pages.get("/recommendations")
    assert page.status_code == 200, page.text
    html = page.text
    answer = ok(unbudgeted.api.get("/api/v1/cost/recommendations", params=WINDOW))
    kinds = {r["kind"] for r in answer["recommendations"]}
    assert {"budget-at-risk", "key-without-budget"} <= kinds
    assert html.count('data-testid="recommendation"') == len(answer["recommendations"])
    for found in answer["recommendations"]:
        assert f'data-kind="{found["kind"]}"' in html
        assert f"{found['rank']}. {found['title']}" in html and found["detail"] in html
    assert "Budget alice-monthly is projected to run out" in html
    assert f"Key {unbudgeted.key_ids['sam']} spends with no budget" in html
    assert "a risk, no saving" in html  # a risk has no saving of its own
    total = re.search(r'"total-savings">Estimated savings: <strong>(.*?)</strong>', html)
    assert total and total.group(1) == "$" + answer["estimatedMonthlySavings"]
    benchmarks = ok(unbudgeted.api.get("/api/v1/cost/benchmarks", params=WINDOW))
    assert benchmarks["models"] and html.count('data-testid="benchmark-row"') == min(
        20, len(benchmarks["models"])
    )
    assert '<th scope="row">gpt-4o-mini</th>' in html


def test_the_limit_and_range_are_passed_on(admin_pages: TestClient, unbudgeted: Seeded) -> None:
    one = admin_pages.get("/recommendations", params={"limit": "1"}).text
    assert one.count('data-testid="recommendation"') == 1
    september = admin_pages.get("/recommendations", params={"start": "2026-09-01",
                                                           "end": "2026-09-30"}).text  # fmt: skip
    answer = ok(unbudgeted.api.get("/api/v1/cost/recommendations", params={
        "start": "2026-09-01T00:00:00+00:00", "end": "2026-10-01T00:00:00+00:00"}))  # fmt: skip
    # No spend in September: only the risks of today's budgets remain.
    assert [r["kind"] for r in answer["recommendations"]] == ["budget-at-risk"]
    assert september.count('data-testid="recommendation"') == 1
    assert 'data-kind="key-without-budget"' not in september
    assert 'value="2026-09-01"' in september and 'value="2026-09-30"' in september


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"start": "2026-11-10", "end": "2026-11-01"}, "start", "start must be before end"),
        ({"limit": "0"}, "limit", "greater than or equal to 1"),
        ({"end": "soon"}, "end", "valid datetime"),
    ],
)
def test_a_refused_filter_is_shown_next_to_its_field(
    admin_pages: TestClient, params: dict[str, str], field: str, message: str
) -> None:
    page = admin_pages.get("/recommendations", params=params)
    assert 400 <= page.status_code < 500, page.text
    error = re.search(rf'id="{field}-error" role="alert">(.*?)</p>', page.text)
    assert error and message in error.group(1), page.text
    assert 'data-testid="recommendation"' not in page.text


def test_a_member_sees_recommendations_of_its_own_scope(key_pages: Any, unbudgeted: Seeded) -> None:
    html = key_pages("sam").get("/recommendations").text
    assert "spends with no budget" in html  # its own key
    assert "alice-monthly" not in html
    bob = key_pages("bob").get("/recommendations").text
    assert "alice-monthly" not in bob and "spends with no budget" not in bob
