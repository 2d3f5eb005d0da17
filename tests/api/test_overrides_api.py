from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient
from test_budgets_api import (  # noqa: F401
    NOW,
    USD,
    Clock,
    Keys,
    api,
    budgets_of_every_scope,
    clock,
    create,
    keys,
    put_balance,
)

LATER = NOW + timedelta(days=1)
REQUEST: dict[str, Any] = {
    "budget_id": "eng-monthly",
    "amount": "25",
    "reason": "incident response",
    "expires_at": LATER.isoformat(),
    "requested_by": "alice@example.com",
}


def actions(client: TestClient) -> list[str]:
    entries = client.get("/api/v1/audit", params={"target_id": "eng-monthly"}).json()["entries"]
    return [e["action"] for e in reversed(entries)]


def test_override_lifecycle(api: TestClient) -> None:  # noqa: F811
    create(api)
    response = api.post("/api/v1/overrides", json={**REQUEST, "models": ["gpt-4o"]})
    assert response.status_code == 201, response.text
    pending = response.json()
    assert pending["status"] == "pending" and pending["amount"] == "25"
    assert pending["models"] == ["gpt-4o"] and pending["requested_by"] == "alice@example.com"
    override_id = pending["id"]
    assert api.get(f"/api/v1/overrides/{override_id}").json() == pending

    approved = api.post(f"/api/v1/overrides/{override_id}/approve", json={"reason": "go"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "admin"
    assert approved.json()["decision_reason"] == "go"
    assert approved.json()["remaining"] == "25"
    again = api.post(f"/api/v1/overrides/{override_id}/approve")
    assert again.status_code == 409 and again.json()["error"]["param"] == "override_id"
    denied_late = api.post(f"/api/v1/overrides/{override_id}/deny", json={"reason": "no"})
    assert denied_late.status_code == 409

    other = api.post("/api/v1/overrides", json=REQUEST).json()["id"]
    denied = api.post(f"/api/v1/overrides/{other}/deny", json={"reason": "use the batch tier"})
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    assert api.post(f"/api/v1/overrides/{other}/approve").status_code == 409

    listed = api.get("/api/v1/overrides").json()["overrides"]
    assert {o["id"] for o in listed} == {override_id, other}
    only = api.get("/api/v1/overrides", params={"status": "approved"}).json()["overrides"]
    assert [o["id"] for o in only] == [override_id]
    by_budget = api.get("/api/v1/overrides", params={"budget_id": "ghost"}).json()
    assert by_budget["overrides"] == []
    assert actions(api) == [
        "budget.created",
        "override.requested",
        "override.approved",
        "override.requested",
        "override.denied",
    ]


def test_an_override_that_expired_pending_cannot_be_approved(
    api: TestClient,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    create(api)
    override_id = api.post("/api/v1/overrides", json=REQUEST).json()["id"]
    clock.now = LATER
    response = api.post(f"/api/v1/overrides/{override_id}/approve")
    assert response.status_code == 409
    assert api.post(f"/api/v1/overrides/{override_id}/deny", json={"reason": "late"}).is_success


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"budget_id": "ghost"}, 404, "budget_id"),
        ({"amount": "0"}, 400, "amount"),
        ({"amount": "-3"}, 400, "amount"),
        ({"amount": "lots"}, 400, "amount"),
        ({"expires_at": NOW.isoformat()}, 400, "expires_at"),
        ({"expires_at": "2026-11-12T00:00:00"}, 422, "expires_at"),  # no time zone
        ({"models": []}, 400, "models"),
        ({"reason": ""}, 422, "reason"),
        ({"reason": None}, 422, "reason"),
    ],
)
def test_bad_override_requests_name_the_field(
    api: TestClient,  # noqa: F811
    changes: dict[str, Any],
    status: int,
    field: str,
) -> None:
    create(api)
    response = api.post("/api/v1/overrides", json={**REQUEST, **changes})
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == field
    assert api.get("/api/v1/overrides").json()["overrides"] == []


def test_override_queries_and_missing_ones(api: TestClient) -> None:  # noqa: F811
    body = {"amount": "1", "reason": "x", "expires_at": LATER.isoformat()}
    missing = api.post("/api/v1/budgets/ghost/extensions", json=body)
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "budget_id"
    assert api.get("/api/v1/budgets/ghost/extensions").status_code == 404
    bad = api.get("/api/v1/overrides", params={"status": "maybe"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "status"
    for path in ("/api/v1/overrides/nope/approve", "/api/v1/overrides/nope/deny"):
        response = api.post(path, json={"reason": "x"})
        assert response.status_code == 404 and response.json()["error"]["param"] == "override_id"
    assert api.get("/api/v1/overrides/nope").status_code == 404
    assert api.post("/api/v1/overrides/x/deny", json={}).json()["error"]["param"] == "reason"


def test_extension_raises_the_limit_until_it_expires(
    api: TestClient,  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    create(api)
    put_balance(api, "eng-monthly", 0, posted=90 * USD)
    before = api.get("/api/v1/budgets/eng-monthly/status").json()
    assert before["limit"] == "100" and before["status"] == "critical"

    response = api.post(
        "/api/v1/budgets/eng-monthly/extensions",
        json={"amount": 50, "reason": "launch day", "expires_at": LATER.isoformat()},
    )
    assert response.status_code == 201, response.text
    extension = response.json()
    assert extension["amount"] == "50" and extension["active"] is True
    assert extension["starts_at"] == NOW.isoformat()

    during = api.get("/api/v1/budgets/eng-monthly/status").json()
    # 90 of 150 → 60.00%: notify only, so back to normal.
    assert during["limit"] == "150" and during["baseLimit"] == "100"
    assert during["extensions"] == "50" and during["remaining"] == "60"
    assert during["percentUsed"] == "60.00" and during["status"] == "normal"
    scope = api.get("/api/v1/budgets/status/team/eng").json()
    assert scope["budgets"][0]["limit"] == "150" and scope["aggregateStatus"] == "normal"

    clock.now = LATER  # expires_at is exclusive
    after = api.get("/api/v1/budgets/eng-monthly/status").json()
    assert after["limit"] == "100" and after["status"] == "critical"
    listed = api.get("/api/v1/budgets/eng-monthly/extensions").json()["extensions"]
    assert [e["active"] for e in listed] == [False]


def test_ending_an_extension_now(api: TestClient, clock: Clock) -> None:  # noqa: F811
    create(api)
    future = (NOW + timedelta(hours=2)).isoformat()
    created = api.post(
        "/api/v1/budgets/eng-monthly/extensions",
        json={"amount": "10", "reason": "demo", "expires_at": LATER.isoformat()},
    ).json()
    scheduled = api.post(
        "/api/v1/budgets/eng-monthly/extensions",
        json={
            "amount": "5",
            "reason": "weekend",
            "starts_at": future,
            "expires_at": LATER.isoformat(),
        },
    ).json()
    assert scheduled["active"] is False
    assert api.get("/api/v1/budgets/eng-monthly/status").json()["limit"] == "110"

    clock.now = NOW + timedelta(hours=1)
    ended = api.delete(f"/api/v1/budgets/eng-monthly/extensions/{created['id']}")
    assert ended.status_code == 200, ended.text
    assert ended.json()["expires_at"] == clock.now.isoformat() and not ended.json()["active"]
    assert api.get("/api/v1/budgets/eng-monthly/status").json()["limit"] == "100"
    again = api.delete(f"/api/v1/budgets/eng-monthly/extensions/{created['id']}")
    assert again.status_code == 409

    wrong_budget = api.delete(f"/api/v1/budgets/ghost/extensions/{scheduled['id']}")
    assert wrong_budget.status_code == 404
    cancelled = api.delete(f"/api/v1/budgets/eng-monthly/extensions/{scheduled['id']}")
    assert cancelled.status_code == 200
    clock.now = NOW + timedelta(hours=3)
    assert api.get("/api/v1/budgets/eng-monthly/status").json()["limit"] == "100"
    assert actions(api)[1:] == [
        "extension.created",
        "extension.created",
        "extension.revoked",
        "extension.revoked",
    ]


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"amount": "0"}, 400, "amount"),
        ({"amount": 1.5e300}, 400, "amount"),
        ({"expires_at": (NOW - timedelta(hours=1)).isoformat()}, 400, "expires_at"),
        ({"starts_at": LATER.isoformat()}, 400, "expires_at"),
        ({"reason": ""}, 422, "reason"),
    ],
)
def test_bad_extensions_name_the_field(
    api: TestClient,  # noqa: F811
    changes: dict[str, Any],
    status: int,
    field: str,
) -> None:
    create(api)
    body = {"amount": "10", "reason": "x", "expires_at": LATER.isoformat(), **changes}
    response = api.post("/api/v1/budgets/eng-monthly/extensions", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == field
    assert api.get("/api/v1/budgets/eng-monthly/extensions").json()["extensions"] == []


def test_budget_owners_decide_and_members_request(api: TestClient, keys: Keys) -> None:  # noqa: F811
    budgets_of_every_scope(api)
    member = keys.of("member")
    own = {k: v for k, v in REQUEST.items() if k != "requested_by"}
    response = api.post("/api/v1/overrides", json=own, headers=member)
    assert response.status_code == 201, response.text
    override = response.json()
    assert override["requested_by"] == f"key:{keys.ids['member']}"
    other_name = api.post("/api/v1/overrides", json={**own, "requested_by": "x"}, headers=member)
    assert other_name.status_code == 403 and other_name.json()["error"]["param"] == "requested_by"
    hidden = api.post("/api/v1/overrides", json={**own, "budget_id": "ops-monthly"}, headers=member)
    assert hidden.status_code == 403 and hidden.json()["error"]["param"] == "budget_id"

    approve = f"/api/v1/overrides/{override['id']}/approve"
    refused = api.post(approve, headers=member)
    assert refused.status_code == 403 and refused.json()["error"]["param"] == "override_id"
    assert api.post(approve, headers=keys.of("ops_member")).status_code == 403
    approved = api.post(approve, headers=keys.of("team_admin"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["decided_by"] == f"key:{keys.ids['team_admin']}"

    assert api.get(f"/api/v1/overrides/{override['id']}", headers=member).status_code == 200
    assert (
        api.get(f"/api/v1/overrides/{override['id']}", headers=keys.of("ops_member")).status_code
        == 403
    )
    assert api.get("/api/v1/overrides", headers=keys.of("ops_member")).json()["overrides"] == []
    assert len(api.get("/api/v1/overrides", headers=member).json()["overrides"]) == 1

    extension = {"amount": "5", "reason": "launch", "expires_at": LATER.isoformat()}
    decisions = [
        ("team_admin", "eng-monthly", 201),  # its own team
        ("team_admin", "member-user", 201),  # a user of its team
        ("team_admin", "acme-org", 403),  # sees its organisation, does not own it
        ("team_admin", "ops-monthly", 403),
        ("member", "member-user", 403),  # members decide nothing, not even for themselves
        ("org_admin", "acme-org", 201),
        ("org_admin", "ops-monthly", 201),
        ("org_admin", "batch", 403),
    ]
    for name, budget_id, status in decisions:
        path = f"/api/v1/budgets/{budget_id}/extensions"
        response = api.post(path, json=extension, headers=keys.of(name))
        assert response.status_code == status, (name, budget_id, response.text)
    listed = api.get("/api/v1/budgets/ops-monthly/extensions", headers=keys.of("ops_member"))
    assert len(listed.json()["extensions"]) == 1
    first = listed.json()["extensions"][0]["id"]
    end = f"/api/v1/budgets/ops-monthly/extensions/{first}"
    assert api.delete(end, headers=keys.of("ops_member")).status_code == 403
    assert api.delete(end, headers=keys.of("org_admin")).status_code == 200
