from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, insert, select

from thrifty.budgets.model import Priority
from thrifty.budgets.principal import Role, hash_secret
from thrifty.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from thrifty.storage import directory_repo as repo
from thrifty.storage.audit_repo import list_audit
from thrifty.storage.cache import read_version
from thrifty.storage.database import Database
from thrifty.storage.schema import api_keys, budgets

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
ADMIN = "admin"


def tree(conn: Connection) -> None:
    repo.insert_org(conn, org_id="acme", name="Acme", actor=ADMIN, now=NOW)
    repo.insert_team(conn, team_id="eng", org_id="acme", name="Eng", actor=ADMIN, now=NOW)
    repo.insert_user(
        conn,
        user_id="alice",
        team_id="eng",
        name="Alice",
        email="alice@example.com",
        role=Role.TEAM_ADMIN,
        actor=ADMIN,
        now=NOW,
    )


def issue(conn: Connection, **changes: Any) -> tuple[repo.KeyRecord, str]:
    values: dict[str, Any] = {
        "user_id": "alice",
        "name": "ci",
        "allowed_models": ["gpt-4o-mini"],
        "tags": ["project:atlas"],
        "default_priority": Priority.NON_ESSENTIAL,
        "expires_at": None,
        "actor": ADMIN,
        "now": NOW,
    }
    return repo.insert_key(conn, **(values | changes))


def test_tree_round_trip_with_audit_and_version(database: Database) -> None:
    database.write(tree)
    assert database.read(lambda c: read_version(c, repo.DIRECTORY)) == 3
    user = database.read(lambda c: repo.get_user(c, "alice"))
    assert (user.team_id, user.role, user.email) == ("eng", Role.TEAM_ADMIN, "alice@example.com")
    assert user.created_at == NOW
    later = NOW + timedelta(hours=1)
    database.write(lambda c: repo.update_org(c, "acme", name="Acme Inc", actor="key:k1", now=later))
    org = database.read(lambda c: repo.get_org(c, "acme"))
    assert (org.name, org.created_at, org.updated_at) == ("Acme Inc", NOW, later)
    audit = database.read(lambda c: list_audit(c))
    assert [row["action"] for row in audit] == [
        "org.updated",
        "user.created",
        "team.created",
        "org.created",
    ]
    assert audit[0]["actor"] == "key:k1" and audit[0]["details"] == {"name": ["Acme", "Acme Inc"]}


def test_references_must_exist(database: Database) -> None:
    with pytest.raises(InvalidInput) as raised:
        database.write(
            lambda c: repo.insert_team(
                c, team_id="t", org_id="nope", name="T", actor=ADMIN, now=NOW
            )
        )
    assert raised.value.field == "org_id"
    database.write(tree)
    with pytest.raises(InvalidInput) as raised:
        database.write(lambda c: issue(c, user_id="nobody"))
    assert raised.value.field == "user_id"
    with pytest.raises(NotFound):
        database.read(lambda c: repo.get_team(c, "nope"))


def test_duplicate_ids_conflict(database: Database) -> None:
    database.write(tree)
    with pytest.raises(Conflict) as raised:
        database.write(
            lambda c: repo.insert_team(
                c, team_id="eng", org_id="acme", name="E", actor=ADMIN, now=NOW
            )
        )
    assert raised.value.field == "id"


def test_a_team_never_moves_to_another_org(database: Database) -> None:
    database.write(tree)
    database.write(lambda c: repo.insert_org(c, org_id="other", name="O", actor=ADMIN, now=NOW))
    with pytest.raises(Conflict) as raised:
        database.write(
            lambda c: repo.update_team(c, "eng", name="Eng", org_id="other", actor=ADMIN, now=NOW)
        )
    assert raised.value.field == "org_id" and "exactly one org" in raised.value.message
    assert database.read(lambda c: repo.get_team(c, "eng")).org_id == "acme"


def test_deleting_a_non_empty_parent_names_what_is_inside(database: Database) -> None:
    database.write(tree)
    with pytest.raises(Conflict, match=r"org 'acme' still has 1 team\(s\): eng"):
        database.write(lambda c: repo.delete_org(c, "acme", actor=ADMIN, now=NOW))
    with pytest.raises(Conflict, match=r"team 'eng' still has 1 user\(s\): alice"):
        database.write(lambda c: repo.delete_team(c, "eng", actor=ADMIN, now=NOW))
    key, _ = database.write(issue)
    with pytest.raises(Conflict, match=rf"not revoked: {key.id}"):
        database.write(lambda c: repo.delete_user(c, "alice", actor=ADMIN, now=NOW))
    database.write(lambda c: repo.revoke_key(c, key.id, actor=ADMIN, now=NOW))
    database.write(lambda c: repo.delete_user(c, "alice", actor=ADMIN, now=NOW))
    database.write(lambda c: repo.delete_team(c, "eng", actor=ADMIN, now=NOW))
    database.write(lambda c: repo.delete_org(c, "acme", actor=ADMIN, now=NOW))
    assert database.read(repo.list_orgs) == [] and database.read(repo.list_keys) == []
    deleted = database.read(lambda c: list_audit(c, action="user.deleted"))
    assert deleted[0]["details"]["revoked_keys_removed"] == [key.id]


def test_a_budgeted_scope_cannot_be_deleted(database: Database) -> None:
    database.write(lambda c: repo.insert_org(c, org_id="acme", name="A", actor=ADMIN, now=NOW))
    row = {
        "id": "b1",
        "name": "acme monthly",
        "scope_type": "organization",
        "scope_id": "acme",
        "limit_nano": 10**12,
        "period_kind": "monthly",
        "period_start": "2026-11-01",
        "timezone": "UTC",
        "mode": "hard",
        "thresholds": [],
        "carry_over": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    database.write(lambda c: c.execute(insert(budgets).values(**row)))
    with pytest.raises(Conflict, match="still has budget"):
        database.write(lambda c: repo.delete_org(c, "acme", actor=ADMIN, now=NOW))


def test_key_secret_is_stored_only_as_its_hash(database: Database) -> None:
    database.write(tree)
    key, secret = database.write(issue)
    assert secret.startswith("thr_") and len(secret) >= 36
    assert key.id.startswith("key_") and secret.startswith(key.prefix) and len(key.prefix) <= 16
    row = database.read(lambda c: c.execute(select(api_keys)).one())
    assert row.secret_hash == hash_secret(secret)
    assert secret not in [str(v) for v in row]
    assert (key.allowed_models, key.tags) == (("gpt-4o-mini",), ("project:atlas",))
    audit = database.read(lambda c: list_audit(c, action="key.created"))
    assert secret not in str(audit) and audit[0]["target_id"] == key.id


def test_snapshot_resolves_live_keys_to_their_principal(database: Database) -> None:
    database.write(tree)
    _, secret = database.write(issue)
    expires = NOW + timedelta(days=1)
    expiring, expiring_secret = database.write(lambda c: issue(c, expires_at=expires))
    directory = database.read(repo.load_directory)
    principal = directory.resolve(secret, NOW)
    assert (principal.user_id, principal.team_id, principal.org_id) == ("alice", "eng", "acme")
    assert principal.role is Role.TEAM_ADMIN and principal.tags == ("project:atlas",)
    assert principal.allowed_models == frozenset({"gpt-4o-mini"})
    assert principal.default_priority is Priority.NON_ESSENTIAL
    with pytest.raises(AuthenticationFailed, match="expired"):
        directory.resolve(expiring_secret, expires)
    assert directory.facts.key_user[expiring.id] == "alice"


def test_revoking_is_once_and_audited_once(database: Database) -> None:
    database.write(tree)
    key, secret = database.write(issue)
    first = database.write(lambda c: repo.revoke_key(c, key.id, actor=ADMIN, now=NOW))
    again = database.write(
        lambda c: repo.revoke_key(c, key.id, actor=ADMIN, now=NOW + timedelta(hours=1))
    )
    assert first.revoked_at == again.revoked_at == NOW
    assert len(database.read(lambda c: list_audit(c, action="key.revoked"))) == 1
    with pytest.raises(AuthenticationFailed, match="revoked"):
        database.read(repo.load_directory).resolve(secret, NOW)
    with pytest.raises(NotFound):
        database.write(lambda c: repo.revoke_key(c, "key_nope", actor=ADMIN, now=NOW))


def test_moving_a_user_changes_its_chain(database: Database) -> None:
    database.write(tree)
    database.write(
        lambda c: repo.insert_team(
            c, team_id="ops", org_id="acme", name="Ops", actor=ADMIN, now=NOW
        )
    )
    _, secret = database.write(issue)
    database.write(
        lambda c: repo.update_user(
            c,
            "alice",
            team_id="ops",
            name="Alice",
            email=None,
            role=Role.MEMBER,
            actor=ADMIN,
            now=NOW,
        )
    )
    principal = database.read(repo.load_directory).resolve(secret, NOW)
    assert (principal.team_id, principal.role) == ("ops", Role.MEMBER)
    audit = database.read(lambda c: list_audit(c, action="user.updated"))
    assert audit[0]["details"]["team_id"] == ["eng", "ops"]
