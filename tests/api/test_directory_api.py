from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from thrifty.app import create_app
from thrifty.settings import Settings
from thrifty.storage.audit_repo import list_audit
from thrifty.storage.database import Database
from thrifty.storage.schema import api_keys

START = datetime(2026, 11, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    """The admin API on a clock the test moves; authenticated with the admin key."""
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {settings.admin_key}"
        yield client


def as_key(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def build_tree(api: TestClient) -> dict[str, str]:
    """acme: eng (alice member, bob team_admin), ops (olga org_admin, oscar member);
    other: x (xavier member). Returns a key secret for each user."""
    created(api.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"}))
    created(api.post("/api/v1/orgs", json={"id": "other", "name": "Other"}))
    for team, org in (("eng", "acme"), ("ops", "acme"), ("x", "other")):
        created(api.post("/api/v1/teams", json={"id": team, "org_id": org, "name": team}))
    people = [
        ("alice", "eng", "member"),
        ("bob", "eng", "team_admin"),
        ("olga", "ops", "org_admin"),
        ("oscar", "ops", "member"),
        ("xavier", "x", "member"),
    ]
    secrets = {}
    for user, team, role in people:
        body = {"id": user, "team_id": team, "name": user.title(), "role": role}
        created(api.post("/api/v1/users", json=body))
        key = created(api.post("/api/v1/keys", json={"user_id": user, "name": "laptop"}))
        secrets[user] = key["secret"]
    return secrets


def ids(response: Any, kind: str) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(item["id"] for item in response.json()[kind])


def assert_error(response: Any, status: int, kind: str, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind and error["message"], error
    assert set(error) >= {"message", "type", "param", "code"}
    if param is not None:
        assert error["param"] == param, error


def test_org_team_user_round_trip(api: TestClient) -> None:
    org = created(api.post("/api/v1/orgs", json={"name": "Acme"}))
    assert org["id"].startswith("org_") and org["created_at"] == START.isoformat()
    team = created(api.post("/api/v1/teams", json={"org_id": org["id"], "name": "Eng"}))
    assert team["id"].startswith("team_") and team["org_id"] == org["id"]
    user = created(api.post("/api/v1/users", json={"team_id": team["id"], "name": "Ann"}))
    assert user["id"].startswith("usr_") and user["role"] == "member" and user["email"] is None

    assert api.get(f"/api/v1/orgs/{org['id']}").json()["name"] == "Acme"
    assert ids(api.get("/api/v1/teams", params={"org_id": org["id"]}), "teams") == [team["id"]]
    assert ids(api.get("/api/v1/users", params={"team_id": "nope"}), "users") == []

    renamed = api.put(f"/api/v1/orgs/{org['id']}", json={"name": "Acme Inc"})
    assert renamed.json()["name"] == "Acme Inc"
    changed = {"team_id": team["id"], "name": "Ann", "role": "team_admin", "email": "a@b.c"}
    assert api.put(f"/api/v1/users/{user['id']}", json=changed).json()["role"] == "team_admin"
    new_name = {"org_id": org["id"], "name": "Engineering"}
    assert api.put(f"/api/v1/teams/{team['id']}", json=new_name).json()["name"] == "Engineering"

    assert api.delete(f"/api/v1/users/{user['id']}").status_code == 204
    assert api.delete(f"/api/v1/teams/{team['id']}").status_code == 204
    assert api.delete(f"/api/v1/orgs/{org['id']}").status_code == 204
    assert_error(api.get(f"/api/v1/orgs/{org['id']}"), 404, "not_found_error")


def test_bad_input_names_the_field(api: TestClient) -> None:
    created(api.post("/api/v1/orgs", json={"id": "acme", "name": "Acme"}))
    created(api.post("/api/v1/teams", json={"id": "eng", "org_id": "acme", "name": "Eng"}))
    created(api.post("/api/v1/users", json={"id": "ann", "team_id": "eng", "name": "Ann"}))
    future = (START + timedelta(days=1)).isoformat()
    key = {"user_id": "ann", "name": "k"}
    cases = [
        ("/api/v1/orgs", {"id": "Bad Slug", "name": "x"}, 422, "id"),
        ("/api/v1/orgs", {"id": "-x", "name": "x"}, 422, "id"),
        ("/api/v1/orgs", {"id": "a" * 65, "name": "x"}, 422, "id"),
        ("/api/v1/orgs", {"name": "x", "colour": "red"}, 422, "colour"),
        ("/api/v1/orgs", {"id": "acme", "name": "again"}, 409, "id"),
        ("/api/v1/orgs", {"name": ""}, 422, "name"),
        ("/api/v1/teams", {"org_id": "nope", "name": "t"}, 400, "org_id"),
        ("/api/v1/users", {"team_id": "nope", "name": "u"}, 400, "team_id"),
        ("/api/v1/users", {"team_id": "eng", "name": "u", "role": "owner"}, 422, "role"),
        ("/api/v1/users", {"team_id": "eng", "name": "u", "email": "no-at"}, 422, "email"),
        ("/api/v1/keys", {"user_id": "nobody", "name": "k"}, 400, "user_id"),
        ("/api/v1/keys", {"user_id": "ann"}, 422, "name"),
        ("/api/v1/keys", key | {"expires_at": "2027-01-01T00:00:00"}, 422, "expires_at"),
        ("/api/v1/keys", key | {"expires_at": "2020-01-01T00:00:00Z"}, 400, "expires_at"),
        ("/api/v1/keys", key | {"allowed_models": ["nope"]}, 400, "allowed_models.0"),
        ("/api/v1/keys", key | {"allowed_models": []}, 422, "allowed_models"),
        ("/api/v1/keys", key | {"default_priority": "urgent"}, 422, "default_priority"),
        ("/api/v1/keys", key | {"tags": ["bad tag"]}, 422, "tags.0"),
        ("/api/v1/keys", key | {"expires_at": future, "x": 1}, 422, "x"),
    ]  # fmt: skip
    for path, body, status, param in cases:
        response = api.post(path, json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["param"] == param, (body, response.text)
        assert response.json()["error"]["message"].startswith(param), response.text


def test_a_team_belongs_to_exactly_one_org(api: TestClient) -> None:
    for org in ("acme", "other"):
        created(api.post("/api/v1/orgs", json={"id": org, "name": org}))
    created(api.post("/api/v1/teams", json={"id": "eng", "org_id": "acme", "name": "Eng"}))
    moved = api.put("/api/v1/teams/eng", json={"org_id": "other", "name": "Eng"})
    assert_error(moved, 409, "conflict_error", "org_id")
    assert "exactly one org" in moved.json()["error"]["message"]
    again = api.post("/api/v1/teams", json={"id": "eng", "org_id": "other", "name": "Eng"})
    assert_error(again, 409, "conflict_error", "id")
    mismatch = api.put("/api/v1/teams/eng", json={"id": "ops", "org_id": "acme", "name": "E"})
    assert_error(mismatch, 400, "invalid_request_error", "id")
    assert api.get("/api/v1/teams/eng").json()["org_id"] == "acme"


def test_deleting_what_is_not_empty_is_a_conflict(api: TestClient) -> None:
    secrets = build_tree(api)
    response = api.delete("/api/v1/orgs/acme")
    assert_error(response, 409, "conflict_error")
    assert "2 team(s): eng, ops" in response.json()["error"]["message"]
    assert "alice, bob" in api.delete("/api/v1/teams/eng").json()["error"]["message"]
    assert "revoke them first" in api.delete("/api/v1/users/alice").json()["error"]["message"]
    key_id = api.get("/api/v1/keys", params={"user_id": "alice"}).json()["keys"][0]["id"]
    assert api.delete(f"/api/v1/keys/{key_id}").status_code == 204
    assert api.delete("/api/v1/users/alice").status_code == 204
    assert_error(
        api.get("/api/v1/users", headers=as_key(secrets["alice"])), 401, "authentication_error"
    )


def test_key_secret_is_shown_once_and_stored_hashed(api: TestClient, database_url: str) -> None:
    build_tree(api)
    body = {
        "user_id": "alice",
        "name": "ci",
        "allowed_models": ["gpt-4o-mini", "gpt-4o"],
        "tags": ["project:atlas", "batch", "batch"],
        "expires_at": "2027-01-01T00:00:00+01:00",
        "default_priority": "non-essential",
    }
    key = created(api.post("/api/v1/keys", json=body))
    secret = key.pop("secret")
    assert secret.startswith("thr_") and len(secret) >= 36 and secret.startswith(key["prefix"])
    assert key["allowed_models"] == ["gpt-4o", "gpt-4o-mini"]
    assert key["tags"] == ["project:atlas", "batch"]
    assert key["expires_at"] == "2026-12-31T23:00:00+00:00" and key["status"] == "active"
    assert key["default_priority"] == "non-essential"

    for response in (api.get(f"/api/v1/keys/{key['id']}"), api.get("/api/v1/keys")):
        assert response.status_code == 200
        assert secret not in response.text and "secret" not in response.text
    assert api.get(f"/api/v1/keys/{key['id']}").json() == key

    database = Database(database_url)
    stored = database.read(
        lambda c: c.execute(select(api_keys).where(api_keys.c.id == key["id"])).one()
    )
    audit = database.read(lambda c: list_audit(c, target_ids=[key["id"]]))
    database.close()
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(tuple(stored)) and secret not in str(audit)
    assert audit[0]["action"] == "key.created" and audit[0]["actor"] == "admin"

    who = api.get("/api/v1/users", headers=as_key(secret))
    assert ids(who, "users") == ["alice"]


def test_revoked_and_expired_keys_are_refused(api: TestClient, clock: Clock) -> None:
    build_tree(api)
    expires = (START + timedelta(hours=1)).isoformat()
    short = created(
        api.post("/api/v1/keys", json={"user_id": "alice", "name": "s", "expires_at": expires})
    )
    lasting = created(api.post("/api/v1/keys", json={"user_id": "alice", "name": "l"}))
    assert api.get("/api/v1/orgs", headers=as_key(short["secret"])).status_code == 200

    revoked = api.post(f"/api/v1/keys/{lasting['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = api.get("/api/v1/orgs", headers=as_key(lasting["secret"]))
    assert_error(refused, 401, "authentication_error")
    assert f"API key {lasting['id']!r} was revoked" in refused.json()["error"]["message"]

    clock.now = START + timedelta(hours=1)
    expired = api.get("/api/v1/orgs", headers=as_key(short["secret"]))
    assert_error(expired, 401, "authentication_error")
    assert "expired at" in expired.json()["error"]["message"]
    assert api.get(f"/api/v1/keys/{short['id']}").json()["status"] == "expired"


def test_missing_and_wrong_credentials_are_401(api: TestClient) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer thr_wrong"}):
        response = api.get("/api/v1/orgs", headers=headers)
        assert_error(response, 401, "authentication_error")
        assert response.json()["error"]["code"] == "authentication_failed"


def test_member_sees_its_own_chain_only(api: TestClient) -> None:
    secrets = build_tree(api)
    alice = as_key(secrets["alice"])
    assert ids(api.get("/api/v1/orgs", headers=alice), "orgs") == ["acme"]
    assert ids(api.get("/api/v1/teams", headers=alice), "teams") == ["eng"]
    assert ids(api.get("/api/v1/users", headers=alice), "users") == ["alice"]
    assert len(api.get("/api/v1/keys", headers=alice).json()["keys"]) == 1
    assert api.get("/api/v1/users/alice", headers=alice).status_code == 200
    assert_error(api.get("/api/v1/users/bob", headers=alice), 403, "permission_error", "user_id")
    assert_error(api.get("/api/v1/teams/ops", headers=alice), 403, "permission_error", "team_id")
    assert_error(api.get("/api/v1/orgs/other", headers=alice), 403, "permission_error", "org_id")
    # Admin-only endpoints: the organisation tree and the model registry.
    denied = api.post("/api/v1/orgs", json={"name": "mine"}, headers=alice)
    assert_error(denied, 403, "permission_error")
    assert "needs the admin key" in denied.json()["error"]["message"]
    assert_error(api.get("/api/v1/models", headers=alice), 403, "permission_error")
    assert_error(api.delete("/api/v1/teams/eng", headers=alice), 403, "permission_error")
    issue = api.post("/api/v1/keys", json={"user_id": "alice", "name": "more"}, headers=alice)
    assert_error(issue, 403, "permission_error", "user_id")


def test_member_may_revoke_its_own_keys_only(api: TestClient) -> None:
    secrets = build_tree(api)
    spare = created(api.post("/api/v1/keys", json={"user_id": "alice", "name": "spare"}))
    bob_key = api.get("/api/v1/keys", params={"user_id": "bob"}).json()["keys"][0]["id"]
    alice = as_key(secrets["alice"])
    assert len(api.get("/api/v1/keys", headers=alice).json()["keys"]) == 2
    assert api.delete(f"/api/v1/keys/{spare['id']}", headers=alice).status_code == 204
    refused = api.post(f"/api/v1/keys/{bob_key}/revoke", headers=alice)
    assert_error(refused, 403, "permission_error", "key_id")
    assert_error(api.get(f"/api/v1/keys/{bob_key}", headers=alice), 403, "permission_error")
    audit = api.app.state.thrifty.database.read(  # type: ignore[attr-defined]
        lambda c: list_audit(c, action="key.revoked")
    )
    laptop = next(
        k["id"]
        for k in api.get("/api/v1/keys").json()["keys"]
        if k["name"] == "laptop" and k["user_id"] == "alice"
    )
    assert [(row["target_id"], row["actor"]) for row in audit] == [(spare["id"], f"key:{laptop}")]


def test_team_admin_manages_its_team_members_keys(api: TestClient) -> None:
    secrets = build_tree(api)
    bob = as_key(secrets["bob"])
    assert ids(api.get("/api/v1/users", headers=bob), "users") == ["alice", "bob"]
    assert ids(api.get("/api/v1/teams", headers=bob), "teams") == ["eng"]
    assert {k["user_id"] for k in api.get("/api/v1/keys", headers=bob).json()["keys"]} == {
        "alice",
        "bob",
    }
    key = created(api.post("/api/v1/keys", json={"user_id": "alice", "name": "b"}, headers=bob))
    assert api.get("/api/v1/users", headers=as_key(key["secret"])).status_code == 200
    other = api.post("/api/v1/keys", json={"user_id": "oscar", "name": "b"}, headers=bob)
    assert_error(other, 403, "permission_error", "user_id")
    assert_error(api.get("/api/v1/users/oscar", headers=bob), 403, "permission_error")
    assert api.post(f"/api/v1/keys/{key['id']}/revoke", headers=bob).status_code == 200
    rename = api.put("/api/v1/teams/eng", json={"org_id": "acme", "name": "z"}, headers=bob)
    assert_error(rename, 403, "permission_error")


def test_org_admin_sees_and_issues_across_its_org(api: TestClient) -> None:
    secrets = build_tree(api)
    olga = as_key(secrets["olga"])
    assert ids(api.get("/api/v1/orgs", headers=olga), "orgs") == ["acme"]
    assert ids(api.get("/api/v1/teams", headers=olga), "teams") == ["eng", "ops"]
    assert ids(api.get("/api/v1/users", headers=olga), "users") == ["alice", "bob", "olga", "oscar"]
    assert len(api.get("/api/v1/keys", headers=olga).json()["keys"]) == 4
    created(api.post("/api/v1/keys", json={"user_id": "alice", "name": "o"}, headers=olga))
    outside = api.post("/api/v1/keys", json={"user_id": "xavier", "name": "o"}, headers=olga)
    assert_error(outside, 403, "permission_error", "user_id")
    assert_error(api.get("/api/v1/teams/x", headers=olga), 403, "permission_error")
    assert api.get("/api/v1/orgs", headers=as_key(secrets["xavier"])).json()["orgs"][0]["id"] == (
        "other"
    )


def test_two_apps_sharing_a_database_agree_on_keys(settings: Settings, clock: Clock) -> None:
    with (
        TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as one,
        TestClient(create_app(settings, clock=clock, prepare=False)) as two,
    ):
        one.headers["Authorization"] = f"Bearer {settings.admin_key}"
        secrets = build_tree(one)
        alice = as_key(secrets["alice"])
        # A key made by the other process is found at once (a miss re-reads the snapshot).
        assert two.get("/api/v1/users", headers=alice).status_code == 200
        key_id = one.get("/api/v1/keys", params={"user_id": "alice"}).json()["keys"][0]["id"]
        assert one.post(f"/api/v1/keys/{key_id}/revoke").status_code == 200
        assert one.get("/api/v1/users", headers=alice).status_code == 401
        # The other process refuses it after its background refresh (every second).
        deadline = time.monotonic() + 10
        while two.get("/api/v1/users", headers=alice).status_code == 200:
            assert time.monotonic() < deadline, "the revocation never reached the other app"
            time.sleep(0.1)
        assert "revoked" in two.get("/api/v1/users", headers=alice).json()["error"]["message"]


def test_me_names_the_calling_key_and_its_chain(api: TestClient) -> None:
    secrets = build_tree(api)
    me = api.get("/api/v1/me", headers=as_key(secrets["bob"]))
    assert me.status_code == 200, me.text
    body = me.json()
    assert (body["admin"], body["user_id"], body["team_id"], body["org_id"], body["role"]) == (
        False,
        "bob",
        "eng",
        "acme",
        "team_admin",
    )
    assert body["key"]["user_id"] == "bob" and "secret" not in body["key"]
    assert secrets["bob"].startswith(body["key"]["prefix"])
    assert api.get("/api/v1/me").json() == {
        "admin": True,
        "key": None,
        "user_id": None,
        "team_id": None,
        "org_id": None,
        "role": None,
        "tags": [],
    }
    assert api.get("/api/v1/me", headers=as_key("thr_nope")).status_code == 401
