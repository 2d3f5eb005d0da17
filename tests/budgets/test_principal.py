from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from thrifty.budgets.model import Priority, Scope, ScopeType
from thrifty.budgets.principal import (
    Directory,
    DirectoryFacts,
    KeyGrant,
    Principal,
    Role,
    can_issue_key,
    can_manage,
    can_revoke_key,
    can_see,
    chain_scopes,
    hash_secret,
)
from thrifty.errors import AuthenticationFailed

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)

# acme: eng (alice member, bob team_admin), ops (olga org_admin); other: x (xavier member)
FACTS = DirectoryFacts(
    team_org={"eng": "acme", "ops": "acme", "x": "other"},
    user_team={"alice": "eng", "bob": "eng", "olga": "ops", "xavier": "x"},
    key_user={"k-alice": "alice", "k-alice2": "alice", "k-bob": "bob", "k-olga": "olga"}
    | {"k-xavier": "xavier"},
)


def principal(user: str, role: Role, *, tags: tuple[str, ...] = ()) -> Principal:
    team = FACTS.user_team[user]
    return Principal(f"k-{user}", user, team, FACTS.team_org[team], tags, role)


ALICE = principal("alice", Role.MEMBER, tags=("project:atlas",))
BOB = principal("bob", Role.TEAM_ADMIN)
OLGA = principal("olga", Role.ORG_ADMIN)
ADMIN = Principal.admin()


def org(i: str) -> Scope:
    return Scope(ScopeType.ORGANIZATION, i)


def team(i: str) -> Scope:
    return Scope(ScopeType.TEAM, i)


def user(i: str) -> Scope:
    return Scope(ScopeType.USER, i)


def key(i: str) -> Scope:
    return Scope(ScopeType.KEY, i)


def tag(i: str) -> Scope:
    return Scope(ScopeType.TAG, i)


def test_chain_is_key_user_team_org_then_tags() -> None:
    assert [str(s) for s in chain_scopes(ALICE)] == [
        "key:k-alice",
        "user:alice",
        "team:eng",
        "organization:acme",
        "tag:project:atlas",
    ]
    assert chain_scopes(ADMIN) == ()


def test_member_sees_its_own_chain_and_keys_only() -> None:
    visible = [key("k-alice"), key("k-alice2"), user("alice"), team("eng"), org("acme")]
    visible.append(tag("project:atlas"))
    for scope in visible:
        assert can_see(ALICE, scope, FACTS), scope
    hidden = [user("bob"), key("k-bob"), team("ops"), org("other"), tag("other"), user("nobody")]
    for scope in hidden:
        assert not can_see(ALICE, scope, FACTS), scope
    assert not any(can_manage(ALICE, s, FACTS) for s in visible + hidden)


def test_team_admin_sees_its_team_users_and_their_keys() -> None:
    for scope in [team("eng"), org("acme"), user("alice"), key("k-alice"), key("k-bob")]:
        assert can_see(BOB, scope, FACTS), scope
    for scope in [team("ops"), user("olga"), key("k-olga"), org("other"), user("xavier")]:
        assert not can_see(BOB, scope, FACTS), scope
    assert can_manage(BOB, user("alice"), FACTS) and can_manage(BOB, key("k-alice"), FACTS)
    assert not can_manage(BOB, team("eng"), FACTS), "a team admin does not manage its own team"
    assert not can_manage(BOB, org("acme"), FACTS)


def test_org_admin_sees_everything_in_its_org() -> None:
    inside = [org("acme"), team("eng"), team("ops"), user("alice"), user("bob"), key("k-bob")]
    for scope in inside:
        assert can_see(OLGA, scope, FACTS), scope
    for scope in [org("other"), team("x"), user("xavier"), key("k-xavier"), team("unknown")]:
        assert not can_see(OLGA, scope, FACTS), scope
    assert can_manage(OLGA, team("eng"), FACTS) and can_manage(OLGA, key("k-alice"), FACTS)
    assert not can_manage(OLGA, org("acme"), FACTS), "an org admin does not manage its own org"


def test_admin_sees_and_manages_everything() -> None:
    for scope in [org("other"), team("x"), user("xavier"), key("k-xavier"), tag("any")]:
        assert can_see(ADMIN, scope, FACTS) and can_manage(ADMIN, scope, FACTS)


def test_issuing_and_revoking_keys() -> None:
    assert can_issue_key(BOB, "alice", FACTS) and can_issue_key(BOB, "bob", FACTS)
    assert not can_issue_key(BOB, "olga", FACTS)
    assert can_issue_key(OLGA, "alice", FACTS) and not can_issue_key(OLGA, "xavier", FACTS)
    assert not can_issue_key(ALICE, "alice", FACTS)
    assert can_revoke_key(ALICE, "k-alice2", FACTS), "a user may revoke its own keys"
    assert not can_revoke_key(ALICE, "k-bob", FACTS)
    assert can_revoke_key(BOB, "k-alice", FACTS) and not can_revoke_key(BOB, "k-olga", FACTS)


def test_allowed_models() -> None:
    assert ALICE.may_use("anything")
    limited = Principal("k", "u", "t", "o", allowed_models=frozenset({"gpt-4o-mini"}))
    assert limited.may_use("gpt-4o-mini") and not limited.may_use("gpt-4o")
    assert ADMIN.actor == "admin" and ALICE.actor == "key:k-alice"


def test_secrets_are_hashed_with_sha256() -> None:
    assert hash_secret("thr_abc") == hashlib.sha256(b"thr_abc").hexdigest()


def _directory() -> Directory:
    lasting = Principal("k1", "u", "t", "o", role=Role.MEMBER, default_priority=Priority.CRITICAL)
    expiring = Principal("k2", "u", "t", "o", role=Role.MEMBER)
    live = {
        hash_secret("thr_one"): KeyGrant(lasting, None),
        hash_secret("thr_two"): KeyGrant(expiring, NOW + timedelta(hours=1)),
    }
    revoked = {hash_secret("thr_old"): ("k3", NOW - timedelta(days=1))}
    return Directory(live, revoked, DirectoryFacts())


def test_resolve_finds_live_keys() -> None:
    directory = _directory()
    assert directory.resolve("thr_one", NOW).key_id == "k1"
    assert directory.resolve("thr_two", NOW + timedelta(minutes=59)).key_id == "k2"


@pytest.mark.parametrize(
    ("secret", "at", "message"),
    [
        ("thr_nope", NOW, "invalid API key"),
        ("thr_old", NOW, "API key 'k3' was revoked at 2026-10-31T12:00:00+00:00"),
        ("thr_two", NOW + timedelta(hours=1), "API key 'k2' expired at 2026-11-01T13:00:00+00:00"),
    ],
)
def test_resolve_refuses_unknown_revoked_and_expired(
    secret: str, at: datetime, message: str
) -> None:
    with pytest.raises(AuthenticationFailed) as raised:
        _directory().resolve(secret, at)
    assert raised.value.message == message
