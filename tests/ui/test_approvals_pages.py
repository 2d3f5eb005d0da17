"""``/approvals``: requesting an override, the queue with approve and deny (a denial needs a
reason), who may decide, and emergency extensions added and ended."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient
from ui_support import Seeded, csrf_of, ok

REQUEST = {
    "budget_id": "eng-monthly",
    "amount": "25",
    "models": "",
    "reason": "launch day",
    "expires_at": "2026-11-21T12:00",
}


def pending(seeded: Seeded) -> list[dict[str, Any]]:
    return list(ok(seeded.api.get("/api/v1/overrides?status=pending"))["overrides"])


def queue_row(html: str, override_id: str) -> str:
    found = re.search(
        rf'data-testid="override-row" data-override="{override_id}"(.*?)</article>', html, re.S
    )
    assert found, f"override {override_id} is not in the queue"
    return found.group(1)


def requested(
    seeded: Seeded, budget_id: str = "eng-monthly", expires_at: str = "2026-11-22T00:00:00Z"
) -> str:
    body = {"budget_id": budget_id, "amount": "10", "reason": "spike", "expires_at": expires_at}
    return str(ok(seeded.api.post("/api/v1/overrides", json=body), 201)["id"])


def test_a_requested_override_is_approved(seeded: Seeded, admin_pages: TestClient) -> None:
    page = admin_pages.get("/approvals")
    assert page.status_code == 200, page.text
    assert 'value="2026-11-21T12:00"' in page.text  # tomorrow, in UTC, by default
    assert "Read as UTC" in page.text and 'data-testid="queue-empty"' in page.text
    form = REQUEST | {"csrf": csrf_of(page.text), "models": "gpt-4o, gpt-4o-mini"}
    made = admin_pages.post("/approvals/overrides", data=form)
    assert made.status_code == 303 and made.headers["location"] == "/approvals"
    (override,) = pending(seeded)
    assert override["expires_at"] == "2026-11-21T12:00:00+00:00"
    assert override["amount"] == "25" and override["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert override["requested_by"] == "admin" and override["reason"] == "launch day"
    html = admin_pages.get("/approvals").text
    row = queue_row(html, override["id"])
    assert "$25.00" in row and "launch day" in row and "gpt-4o, gpt-4o-mini" in row
    assert "2026-11-21 12:00 UTC" in row and 'data-testid="approve-override"' in row
    approved = admin_pages.post(
        f"/approvals/overrides/{override['id']}/approve",
        data={"csrf": csrf_of(html), "reason": "go ahead"},
    )
    assert approved.status_code == 303
    decided = ok(seeded.api.get(f"/api/v1/overrides/{override['id']}"))
    assert decided["status"] == "approved" and decided["decision_reason"] == "go ahead"
    after = admin_pages.get("/approvals").text
    assert f'data-testid="override-row" data-override="{override["id"]}"' not in after
    assert f'data-override="{override["id"]}" data-state="approved"' in after
    assert "approved." in after  # the notice


def test_denying_needs_a_reason(seeded: Seeded, admin_pages: TestClient) -> None:
    override_id = requested(seeded)
    csrf = csrf_of(admin_pages.get("/approvals").text)
    empty = admin_pages.post(
        f"/approvals/overrides/{override_id}/deny", data={"csrf": csrf, "reason": ""}
    )
    assert empty.status_code in (400, 422)
    row = queue_row(empty.text, override_id)
    assert f'id="deny-reason-{override_id}-error"' in row and "reason" in row
    assert f'aria-describedby="deny-reason-{override_id}-error"' in row
    assert [o["id"] for o in pending(seeded)] == [override_id]
    denied = admin_pages.post(
        f"/approvals/overrides/{override_id}/deny", data={"csrf": csrf, "reason": "not now"}
    )
    assert denied.status_code == 303
    assert ok(seeded.api.get(f"/api/v1/overrides/{override_id}"))["status"] == "denied"
    again = admin_pages.post(f"/approvals/overrides/{override_id}/approve", data={"csrf": csrf})
    assert again.status_code == 409 and 'data-testid="page-error"' in again.text
    assert "already denied" in again.text  # shown though its row has left the queue


def test_request_errors_name_their_field(seeded: Seeded, admin_pages: TestClient) -> None:
    csrf = csrf_of(admin_pages.get("/approvals").text)
    bad = admin_pages.post("/approvals/overrides", data=REQUEST | {"csrf": csrf, "amount": "lots"})
    assert bad.status_code == 400 and 'id="request-amount-error"' in bad.text
    assert 'value="lots"' in bad.text and 'value="launch day"' in bad.text  # kept
    past = admin_pages.post(
        "/approvals/overrides", data=REQUEST | {"csrf": csrf, "expires_at": "2026-11-01T00:00"}
    )
    assert past.status_code == 400 and 'id="request-expires_at-error"' in past.text
    none = admin_pages.post("/approvals/overrides", data=REQUEST | {"csrf": csrf, "budget_id": ""})
    assert none.status_code in (400, 422) and 'id="request-budget_id-error"' in none.text
    assert pending(seeded) == []


def test_a_member_requests_but_may_not_decide(seeded: Seeded, key_pages: Any) -> None:
    bob = key_pages("bob")
    page = bob.get("/approvals").text
    assert 'value="ops-monthly"' in page and 'value="eng-monthly"' not in page
    made = bob.post(
        "/approvals/overrides", data=REQUEST | {"csrf": csrf_of(page), "budget_id": "ops-monthly"}
    )
    assert made.status_code == 303, made.text
    (override,) = pending(seeded)
    assert override["requested_by"] == f"key:{seeded.key_ids['bob']}"
    html = bob.get("/approvals").text
    row = queue_row(html, override["id"])
    assert 'data-testid="approve-override"' not in row and 'data-testid="decided-elsewhere"' in row
    refused = bob.post(
        f"/approvals/overrides/{override['id']}/approve", data={"csrf": csrf_of(html)}
    )
    assert refused.status_code == 403
    shown = queue_row(refused.text, override["id"])
    assert 'class="form-error"' in shown and "may not decide overrides" in shown
    assert pending(seeded)[0]["status"] == "pending"
    named = bob.post(
        "/approvals/overrides",
        data=REQUEST
        | {"csrf": csrf_of(html), "budget_id": "ops-monthly", "requested_by": "someone"},
    )
    assert named.status_code == 403 and 'id="request-requested_by-error"' in named.text


def test_a_team_admin_decides_its_team(seeded: Seeded, key_pages: Any) -> None:
    eng, acme = requested(seeded, "eng-monthly"), requested(seeded, "acme-monthly")
    alice = key_pages("alice")
    html = alice.get("/approvals").text
    assert 'data-testid="approve-override"' in queue_row(html, eng)
    assert 'data-testid="approve-override"' not in queue_row(html, acme)
    forms = re.findall(r'data-testid="extension-form" data-budget="([\w-]+)"', html)
    assert sorted(forms) == ["alice-monthly", "eng-monthly"]
    approved = alice.post(f"/approvals/overrides/{eng}/approve", data={"csrf": csrf_of(html)})
    assert approved.status_code == 303
    assert ok(seeded.api.get(f"/api/v1/overrides/{eng}"))["status"] == "approved"


def test_an_extension_is_added_and_ended(seeded: Seeded, admin_pages: TestClient) -> None:
    csrf = csrf_of(admin_pages.get("/approvals").text)
    form = {
        "csrf": csrf,
        "amount": "50",
        "reason": "incident",
        "starts_at": "",
        "expires_at": "2026-11-22T12:00",
    }
    added = admin_pages.post("/approvals/budgets/eng-monthly/extensions", data=form)
    assert added.status_code == 303
    assert added.headers["location"] == "/approvals#extensions-eng-monthly"
    (extension,) = ok(seeded.api.get("/api/v1/budgets/eng-monthly/extensions"))["extensions"]
    assert extension["active"] and extension["amount"] == "50"
    assert extension["expires_at"] == "2026-11-22T12:00:00+00:00"
    html = admin_pages.get("/approvals").text
    assert f'data-extension="{extension["id"]}" data-state="in force"' in html
    assert "extended by $50.00 until 2026-11-22 12:00 UTC" in html  # the notice
    ended = admin_pages.post(
        f"/approvals/budgets/eng-monthly/extensions/{extension['id']}/end", data={"csrf": csrf}
    )
    assert ended.status_code == 303
    (after,) = ok(seeded.api.get("/api/v1/budgets/eng-monthly/extensions"))["extensions"]
    assert after["active"] is False
    page = admin_pages.get("/approvals").text
    row = re.search(
        rf'data-extension="{extension["id"]}" data-state="ended">(.*?)</tr>', page, re.S
    )
    assert row and 'data-testid="end-extension"' not in row.group(1)
    wrong = admin_pages.post(
        "/approvals/budgets/eng-monthly/extensions", data=form | {"starts_at": "2026-11-23T00:00"}
    )
    assert wrong.status_code == 400 and 'id="extension-eng-monthly-expires_at-error"' in wrong.text


def test_a_refused_extension_shows_its_error(seeded: Seeded, key_pages: Any) -> None:
    bob = key_pages("bob")
    form = {
        "csrf": csrf_of(bob.get("/approvals").text),
        "amount": "5",
        "reason": "please",
        "expires_at": "2026-11-22T12:00",
    }
    refused = bob.post("/approvals/budgets/ops-monthly/extensions", data=form)
    assert refused.status_code == 403 and "may not decide" in refused.text
    assert 'data-testid="extension-form"' not in refused.text  # bob decides nothing
    assert ok(seeded.api.get("/api/v1/budgets/ops-monthly/extensions"))["extensions"] == []


def test_posts_without_csrf_are_refused(seeded: Seeded, admin_pages: TestClient) -> None:
    assert admin_pages.post("/approvals/overrides", data=REQUEST).status_code == 403
    assert pending(seeded) == []
    override_id = requested(seeded)
    refused = admin_pages.post(
        f"/approvals/overrides/{override_id}/approve", data={"csrf": "0" * 64}
    )
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert pending(seeded)[0]["id"] == override_id


def test_an_override_that_expired_waiting_leaves_the_queue(
    seeded: Seeded, admin_pages: TestClient
) -> None:
    override_id = requested(seeded, expires_at="2026-11-20T13:00:00Z")  # NOW + 1 hour
    seeded.clock.now = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    html = admin_pages.get("/approvals").text
    assert f'data-testid="override-row" data-override="{override_id}"' not in html
    assert f'data-override="{override_id}" data-state="expired"' in html
