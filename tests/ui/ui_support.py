"""Dashboard test helpers: the whole app in-process, seeded through the API, signed in by cookie.

``seeded`` builds one organisation (acme) with two teams (eng, ops), a user in each, keys for
them, budgets at org, team and user level, and settled spend through the ledger API, all at a
fixed clock. ``signed_in`` returns a client whose pages are requested with a session cookie
(the Authorization header is dropped, so the pages cannot lean on it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.testclient import TestClient

ADMIN_KEY = "test-admin-key"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Seeded:
    api: TestClient  # the admin API (Authorization: admin key)
    clock: Clock
    keys: dict[str, str]  # user id → secret of the user's key
    key_ids: dict[str, str]  # user id → key id


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def spend(api: TestClient, request_id: str, user_id: str, amount: str, **extra: Any) -> None:
    """Settle ``amount`` USD on ``user_id``'s chain through the ledger API."""
    body = {"request_id": request_id, "amount": amount, "principal": {"user_id": user_id}}
    ok(api.post("/api/v1/ledger/holds", json=body | extra), 201)
    ok(api.post(f"/api/v1/ledger/holds/{request_id}/settle", json={"actual_cost": amount}))


def sign_in(client: TestClient, key: str) -> TestClient:
    """Sign ``client`` in with ``key`` (its session cookie kept, its Authorization dropped)."""
    client.headers.pop("Authorization", None)
    response = client.post("/signin", data={"key": key, "next": "/"})
    assert response.status_code == 303, response.text
    assert "thrifty_session" in client.cookies
    return client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def seed(api: TestClient, clock: Clock) -> Seeded:
    ok(api.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"}), 201)
    for team in ("eng", "ops"):
        ok(
            api.post("/api/v1/teams", json={"id": team, "org_id": "acme", "name": team.title()}),
            201,
        )
    users = {
        "alice": ("eng", "team_admin"),
        "bob": ("ops", "member"),
        "carol": ("eng", "org_admin"),
    }
    keys, key_ids = {}, {}
    for user, (team, role) in users.items():
        ok(api.post("/api/v1/users", json={"id": user, "team_id": team, "name": user.title(),
                                           "role": role}), 201)  # fmt: skip
        issued = ok(api.post("/api/v1/keys", json={"user_id": user, "name": f"{user}-key"}), 201)
        keys[user], key_ids[user] = issued["secret"], issued["id"]
    month = {"period": "monthly", "start_date": "2026-11-01"}
    for budget_id, scope, limit in (
        ("acme-monthly", {"type": "organization", "id": "acme"}, "1000"),
        ("eng-monthly", {"type": "team", "id": "eng"}, "100"),
        ("ops-monthly", {"type": "team", "id": "ops"}, "50"),
        ("alice-monthly", {"type": "user", "id": "alice"}, "40"),
    ):
        ok(api.post("/api/v1/budgets", json={"id": budget_id, "name": budget_id, "scope": scope,
                                             "limit": limit, **month}), 201)  # fmt: skip
    for n, (user, amount) in enumerate([("alice", "12.50"), ("alice", "20"), ("bob", "7.25")]):
        clock.now = NOW - timedelta(days=3 - n)
        spend(api, f"seed-{n}", user, amount)
    clock.now = NOW
    return Seeded(api, clock, keys, key_ids)
