"""``/api/v1/rate-limits``: the admin key creates, reads, replaces and deletes limits, each
change audited; bad bodies get a 4xx naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient
from test_budgets_api import NOW, api, clock  # noqa: F401

LIMIT: dict[str, Any] = {
    "scope": {"type": "team", "id": "eng"},
    "requests_per_minute": 60,
    "tokens_per_minute": 100_000,
}


def limiter_limits(client: TestClient) -> dict[Any, Any]:
    return dict(client.app.state.rate_limiter.limits.get())  # type: ignore[attr-defined]


def test_lifecycle_is_audited_and_reaches_the_limiter(api: TestClient) -> None:  # noqa: F811
    created = api.post("/api/v1/rate-limits", json={**LIMIT, "id": "eng-rpm"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body == {
        "id": "eng-rpm",
        "scope": {"type": "team", "id": "eng"},
        "requests_per_minute": 60,
        "tokens_per_minute": 100_000,
        "created_at": NOW.isoformat(),
        "updated_at": NOW.isoformat(),
    }
    assert [limit.id for limit in limiter_limits(api).values()] == ["eng-rpm"]
    assert api.get("/api/v1/rate-limits/eng-rpm").json() == body
    assert api.get("/api/v1/rate-limits").json() == {"rate_limits": [body]}
    filtered = api.get("/api/v1/rate-limits", params={"scope_type": "team", "scope_id": "x"})
    assert filtered.json() == {"rate_limits": []}

    replaced = api.put(
        "/api/v1/rate-limits/eng-rpm",
        json={"scope": {"type": "organization", "id": "acme"}, "tokens_per_minute": 5},
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["requests_per_minute"] is None
    assert replaced.json()["scope"] == {"type": "organization", "id": "acme"}
    assert [limit.tokens_per_minute for limit in limiter_limits(api).values()] == [5]

    assert api.delete("/api/v1/rate-limits/eng-rpm").status_code == 204
    assert limiter_limits(api) == {}
    gone = api.get("/api/v1/rate-limits/eng-rpm")
    assert gone.status_code == 404 and gone.json()["error"]["param"] == "limit_id"

    entries = api.get("/api/v1/audit", params={"target_type": "rate_limit"}).json()["entries"]
    assert [e["action"] for e in reversed(entries)] == [
        "rate_limit.created",
        "rate_limit.updated",
        "rate_limit.deleted",
    ]
    changes = entries[1]["details"]["changes"]
    assert changes["requests_per_minute"] == {"from": 60, "to": None}
    assert all(e["target_id"] == "eng-rpm" and e["actor"] == "admin" for e in entries)


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"scope": {"type": "team", "id": "eng"}}, 400, "requests_per_minute"),
        ({**LIMIT, "requests_per_minute": 0}, 422, "requests_per_minute"),
        ({**LIMIT, "tokens_per_minute": -5}, 422, "tokens_per_minute"),
        ({**LIMIT, "tokens_per_minute": 1.5}, 422, "tokens_per_minute"),
        ({**LIMIT, "requests_per_minute": True}, 422, "requests_per_minute"),
        ({**LIMIT, "requests_per_minute": "60"}, 422, "requests_per_minute"),
        ({**LIMIT, "requests_per_minute": 10**11}, 422, "requests_per_minute"),
        ({**LIMIT, "scope": {"type": "tag", "id": "batch"}}, 400, "scope.type"),
        ({**LIMIT, "scope": {"type": "galaxy", "id": "eng"}}, 400, "scope.type"),
        ({**LIMIT, "scope": {"type": "team", "id": "nobody"}}, 400, "scope.id"),
        ({**LIMIT, "scope": {"type": "key", "id": "key_missing"}}, 400, "scope.id"),
        ({**LIMIT, "scope": {"type": "team"}}, 422, "scope.id"),
        ({**LIMIT, "burst": 5}, 422, "burst"),
        ({**LIMIT, "id": "has space"}, 422, "id"),
    ],
)
def test_bad_bodies_name_the_field(
    api: TestClient,  # noqa: F811
    body: dict[str, Any],
    status: int,
    param: str,
) -> None:
    response = api.post("/api/v1/rate-limits", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    assert api.get("/api/v1/rate-limits").json() == {"rate_limits": []}


def test_conflicts_and_mismatches(api: TestClient) -> None:  # noqa: F811
    assert api.post("/api/v1/rate-limits", json={**LIMIT, "id": "a"}).status_code == 201
    second = api.post("/api/v1/rate-limits", json=LIMIT)
    assert second.status_code == 409 and second.json()["error"]["param"] == "scope"
    same_id = api.post(
        "/api/v1/rate-limits",
        json={**LIMIT, "id": "a", "scope": {"type": "organization", "id": "acme"}},
    )
    assert same_id.status_code == 409 and same_id.json()["error"]["param"] == "id"
    mismatch = api.put("/api/v1/rate-limits/a", json={**LIMIT, "id": "b"})
    assert mismatch.status_code == 400 and mismatch.json()["error"]["param"] == "id"
    missing = api.put("/api/v1/rate-limits/zzz", json=LIMIT)
    assert missing.status_code == 404
    assert api.delete("/api/v1/rate-limits/zzz").status_code == 404
    half = api.get("/api/v1/rate-limits", params={"scope_type": "team"})
    assert half.status_code == 400 and half.json()["error"]["param"] == "scope_id"


def test_only_the_admin_key_may_use_them(api: TestClient) -> None:  # noqa: F811
    user = api.post("/api/v1/users", json={"id": "ann", "team_id": "eng", "name": "Ann"})
    assert user.status_code == 201, user.text
    secret = api.post("/api/v1/keys", json={"user_id": "ann", "name": "k"}).json()["secret"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/rate-limits", headers=headers).status_code == 403
    assert api.post("/api/v1/rate-limits", json=LIMIT, headers=headers).status_code == 403
    assert api.get("/api/v1/rate-limits", headers={"Authorization": ""}).status_code == 401
