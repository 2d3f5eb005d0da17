"""Persistence of the organisation tree (orgs → teams → users) and API keys.

Every change writes its audit row and bumps the ``directory`` cache version in the caller's
transaction, so the key snapshot of every process reloads. A key's secret is never stored:
only its SHA-256 hex digest and a short non-secret prefix.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update

from thrifty.budgets.model import Priority, ScopeType
from thrifty.budgets.principal import (
    KEY_PREFIX,
    Directory,
    DirectoryFacts,
    KeyGrant,
    Principal,
    Role,
    hash_secret,
)
from thrifty.errors import Conflict, InvalidInput, NotFound
from thrifty.storage.audit_repo import record_audit
from thrifty.storage.cache import bump_version
from thrifty.storage.schema import api_keys, budgets, orgs, teams, users

DIRECTORY = "directory"
_PREFIX_LENGTH = 12  # "thr_" and 8 random characters: enough to tell keys apart, not to guess


@dataclass(frozen=True, slots=True)
class OrgRecord:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TeamRecord:
    id: str
    org_id: str
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    team_id: str
    name: str
    email: str | None
    role: Role
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class KeyRecord:
    id: str
    user_id: str
    name: str
    prefix: str
    allowed_models: tuple[str, ...] | None
    tags: tuple[str, ...]
    default_priority: Priority | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    routing: dict[str, str] | None = None  # selection defaults: strategy, quality


def new_id(kind: str) -> str:
    """A generated id: ``org_…``, ``team_…``, ``usr_…`` or ``key_…``."""
    return f"{kind}_{secrets.token_hex(8)}"


def new_secret() -> str:
    """A fresh key secret: ``thr_`` and 43 url-safe characters (256 random bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


# --- rows → records ------------------------------------------------------------------------


def _org(row: Any) -> OrgRecord:
    return OrgRecord(row.id, row.name, row.created_at, row.updated_at)


def _team(row: Any) -> TeamRecord:
    return TeamRecord(row.id, row.org_id, row.name, row.created_at, row.updated_at)


def _user(row: Any) -> UserRecord:
    return UserRecord(
        row.id, row.team_id, row.name, row.email, Role(row.role), row.created_at, row.updated_at
    )


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        allowed_models=None if row.allowed_models is None else tuple(row.allowed_models),
        tags=tuple(row.tags),
        default_priority=None if row.default_priority is None else Priority(row.default_priority),
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        created_at=row.created_at,
        routing=None if row.routing is None else dict(row.routing),
    )


def _one(conn: Connection, table: Table, kind: str, entity_id: str, field: str | None) -> Any:
    """The row of ``entity_id``. A missing one addressed by the path is a 404; referenced from
    a body (``field`` names it) it is a 400 naming that field."""
    row = conn.execute(select(table).where(table.c.id == entity_id)).first()
    if row is None:
        message = f"{kind} {entity_id!r} does not exist"
        if field is None:
            raise NotFound(message, field="id")
        raise InvalidInput(message, field=field)
    return row


def _ids(conn: Connection, table: Table, column: Any, value: str) -> list[str]:
    return list(
        conn.execute(select(table.c.id).where(column == value).order_by(table.c.id)).scalars()
    )


def _insert(
    conn: Connection, table: Table, kind: str, values: dict[str, Any], now: datetime
) -> None:
    exists = conn.execute(select(table.c.id).where(table.c.id == values["id"])).first()
    if exists is not None:
        raise Conflict(f"{kind} {values['id']!r} already exists", field="id")
    conn.execute(insert(table).values(**values, created_at=now, updated_at=now))


def _changed(
    conn: Connection, actor: str, now: datetime, action: str, target: str, details: dict[str, Any]
) -> None:
    """The audit row of a change (``action`` is ``kind.verb``) and the cache version bump."""
    kind = action.partition(".")[0]
    record_audit(
        conn,
        actor=actor,
        action=action,
        target_type=kind,
        target_id=target,
        details=details,
        at=now,
    )
    bump_version(conn, DIRECTORY)


def _refuse_if_budgeted(conn: Connection, scope_type: ScopeType, scope_id: str, kind: str) -> None:
    live = list(
        conn.execute(
            select(budgets.c.id)
            .where(
                budgets.c.scope_type == scope_type.value,
                budgets.c.scope_id == scope_id,
                budgets.c.deleted_at.is_(None),
            )
            .order_by(budgets.c.id)
        ).scalars()
    )
    if live:
        raise Conflict(
            f"{kind} {scope_id!r} still has budget(s) {', '.join(live)}; delete them first"
        )


# --- organisations -------------------------------------------------------------------------


def get_org(conn: Connection, org_id: str, *, field: str | None = None) -> OrgRecord:
    return _org(_one(conn, orgs, "org", org_id, field))


def list_orgs(conn: Connection) -> list[OrgRecord]:
    return [_org(row) for row in conn.execute(select(orgs).order_by(orgs.c.id))]


def insert_org(conn: Connection, *, org_id: str, name: str, actor: str, now: datetime) -> OrgRecord:
    _insert(conn, orgs, "org", {"id": org_id, "name": name}, now)
    _changed(conn, actor, now, "org.created", org_id, {"name": name})
    return get_org(conn, org_id)


def update_org(conn: Connection, org_id: str, *, name: str, actor: str, now: datetime) -> OrgRecord:
    before = get_org(conn, org_id)
    conn.execute(update(orgs).where(orgs.c.id == org_id).values(name=name, updated_at=now))
    details = {"name": [before.name, name]}
    _changed(conn, actor, now, "org.updated", org_id, details)
    return get_org(conn, org_id)


def delete_org(conn: Connection, org_id: str, *, actor: str, now: datetime) -> None:
    before = get_org(conn, org_id)
    inside = _ids(conn, teams, teams.c.org_id, org_id)
    if inside:
        raise Conflict(
            f"org {org_id!r} still has {len(inside)} team(s): {', '.join(inside)}; "
            "delete or empty them first"
        )
    _refuse_if_budgeted(conn, ScopeType.ORGANIZATION, org_id, "org")
    conn.execute(delete(orgs).where(orgs.c.id == org_id))
    _changed(conn, actor, now, "org.deleted", org_id, {"name": before.name})


# --- teams ---------------------------------------------------------------------------------


def get_team(conn: Connection, team_id: str, *, field: str | None = None) -> TeamRecord:
    return _team(_one(conn, teams, "team", team_id, field))


def list_teams(conn: Connection, *, org_id: str | None = None) -> list[TeamRecord]:
    query = select(teams).order_by(teams.c.id)
    if org_id is not None:
        query = query.where(teams.c.org_id == org_id)
    return [_team(row) for row in conn.execute(query)]


def insert_team(
    conn: Connection, *, team_id: str, org_id: str, name: str, actor: str, now: datetime
) -> TeamRecord:
    get_org(conn, org_id, field="org_id")
    _insert(conn, teams, "team", {"id": team_id, "org_id": org_id, "name": name}, now)
    details = {"org_id": org_id, "name": name}
    _changed(conn, actor, now, "team.created", team_id, details)
    return get_team(conn, team_id)


def update_team(
    conn: Connection, team_id: str, *, name: str, org_id: str | None, actor: str, now: datetime
) -> TeamRecord:
    """Rename a team. A team belongs to exactly one org for its whole life: a different
    ``org_id`` is refused (create a team in the other org instead)."""
    before = get_team(conn, team_id)
    if org_id is not None and org_id != before.org_id:
        raise Conflict(
            f"team {team_id!r} belongs to org {before.org_id!r}; a team belongs to exactly one "
            f"org and cannot move to {org_id!r} (create a team in {org_id!r} instead)",
            field="org_id",
        )
    conn.execute(update(teams).where(teams.c.id == team_id).values(name=name, updated_at=now))
    details = {"name": [before.name, name]}
    _changed(conn, actor, now, "team.updated", team_id, details)
    return get_team(conn, team_id)


def delete_team(conn: Connection, team_id: str, *, actor: str, now: datetime) -> None:
    before = get_team(conn, team_id)
    inside = _ids(conn, users, users.c.team_id, team_id)
    if inside:
        raise Conflict(
            f"team {team_id!r} still has {len(inside)} user(s): {', '.join(inside)}; "
            "delete or move them first"
        )
    _refuse_if_budgeted(conn, ScopeType.TEAM, team_id, "team")
    conn.execute(delete(teams).where(teams.c.id == team_id))
    details = {"org_id": before.org_id, "name": before.name}
    _changed(conn, actor, now, "team.deleted", team_id, details)


# --- users ---------------------------------------------------------------------------------


def get_user(conn: Connection, user_id: str, *, field: str | None = None) -> UserRecord:
    return _user(_one(conn, users, "user", user_id, field))


def list_users(conn: Connection, *, team_id: str | None = None) -> list[UserRecord]:
    query = select(users).order_by(users.c.id)
    if team_id is not None:
        query = query.where(users.c.team_id == team_id)
    return [_user(row) for row in conn.execute(query)]


def insert_user(
    conn: Connection,
    *,
    user_id: str,
    team_id: str,
    name: str,
    email: str | None,
    role: Role,
    actor: str,
    now: datetime,
) -> UserRecord:
    get_team(conn, team_id, field="team_id")
    values = {"id": user_id, "team_id": team_id, "name": name, "email": email, "role": role.value}
    _insert(conn, users, "user", values, now)
    details = {k: v for k, v in values.items() if k != "id"}
    _changed(conn, actor, now, "user.created", user_id, details)
    return get_user(conn, user_id)


def update_user(
    conn: Connection,
    user_id: str,
    *,
    team_id: str | None,
    name: str,
    email: str | None,
    role: Role,
    actor: str,
    now: datetime,
) -> UserRecord:
    """Replace a user's name, email and role; a given ``team_id`` moves the user."""
    before = get_user(conn, user_id)
    team_id = team_id or before.team_id
    if team_id != before.team_id:
        get_team(conn, team_id, field="team_id")
    after = {"team_id": team_id, "name": name, "email": email, "role": role.value}
    conn.execute(update(users).where(users.c.id == user_id).values(**after, updated_at=now))
    old = {
        "team_id": before.team_id,
        "name": before.name,
        "email": before.email,
        "role": before.role.value,
    }
    details = {k: [old[k], v] for k, v in after.items() if old[k] != v}
    _changed(conn, actor, now, "user.updated", user_id, details)
    return get_user(conn, user_id)


def delete_user(conn: Connection, user_id: str, *, actor: str, now: datetime) -> None:
    """Delete a user whose keys are all revoked (their rows go with it; the audit log keeps
    their history). A user with a key still in force is refused."""
    before = get_user(conn, user_id)
    live = list(
        conn.execute(
            select(api_keys.c.id)
            .where(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
            .order_by(api_keys.c.id)
        ).scalars()
    )
    if live:
        raise Conflict(
            f"user {user_id!r} still has {len(live)} key(s) not revoked: {', '.join(live)}; "
            "revoke them first"
        )
    _refuse_if_budgeted(conn, ScopeType.USER, user_id, "user")
    removed = _ids(conn, api_keys, api_keys.c.user_id, user_id)
    conn.execute(delete(api_keys).where(api_keys.c.user_id == user_id))
    conn.execute(delete(users).where(users.c.id == user_id))
    details = {"team_id": before.team_id, "name": before.name, "revoked_keys_removed": removed}
    _changed(conn, actor, now, "user.deleted", user_id, details)


# --- API keys ------------------------------------------------------------------------------


def get_key(conn: Connection, key_id: str) -> KeyRecord:
    return _key(_one(conn, api_keys, "key", key_id, None))


def list_keys(conn: Connection, *, user_id: str | None = None) -> list[KeyRecord]:
    query = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
    if user_id is not None:
        query = query.where(api_keys.c.user_id == user_id)
    return [_key(row) for row in conn.execute(query)]


def insert_key(
    conn: Connection,
    *,
    user_id: str,
    name: str,
    allowed_models: Sequence[str] | None,
    tags: Sequence[str],
    default_priority: Priority | None,
    expires_at: datetime | None,
    actor: str,
    now: datetime,
    routing: dict[str, str] | None = None,
) -> tuple[KeyRecord, str]:
    """Create a key for ``user_id``; returns it with its secret (the only time it exists)."""
    get_user(conn, user_id, field="user_id")
    key_id, secret = new_id("key"), new_secret()
    values = {
        "user_id": user_id,
        "name": name,
        "prefix": secret[:_PREFIX_LENGTH],
        "allowed_models": None if allowed_models is None else list(allowed_models),
        "tags": list(tags),
        "default_priority": None if default_priority is None else default_priority.value,
        "routing": routing or None,
    }
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            secret_hash=hash_secret(secret),
            expires_at=expires_at,
            created_at=now,
            **values,
        )
    )
    details = values | {"expires_at": None if expires_at is None else expires_at.isoformat()}
    _changed(conn, actor, now, "key.created", key_id, details)
    return get_key(conn, key_id), secret


def revoke_key(conn: Connection, key_id: str, *, actor: str, now: datetime) -> KeyRecord:
    """Revoke a key from ``now`` on. Revoking a revoked key changes nothing."""
    before = get_key(conn, key_id)
    if before.revoked_at is not None:
        return before
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))
    details = {"user_id": before.user_id, "name": before.name}
    _changed(conn, actor, now, "key.revoked", key_id, details)
    return get_key(conn, key_id)


# --- the snapshot the key cache holds --------------------------------------------------------


def load_directory(conn: Connection) -> Directory:
    """Every key with the principal it stands for, and the tree's membership facts."""
    team_org = dict(conn.execute(select(teams.c.id, teams.c.org_id)).all())
    user_team: dict[str, str] = {}
    placed: dict[str, tuple[str, str, Role]] = {}  # user → (team, org, role)
    for user_id, team_id, role in conn.execute(select(users.c.id, users.c.team_id, users.c.role)):
        user_team[user_id] = team_id
        placed[user_id] = (team_id, team_org[team_id], Role(role))
    priorities = {p.value: p for p in Priority}
    key_user: dict[str, str] = {}
    live: dict[str, KeyGrant] = {}
    revoked: dict[str, tuple[str, datetime]] = {}
    columns = [
        api_keys.c.id,
        api_keys.c.user_id,
        api_keys.c.secret_hash,
        api_keys.c.allowed_models,
        api_keys.c.tags,
        api_keys.c.default_priority,
        api_keys.c.expires_at,
        api_keys.c.revoked_at,
        api_keys.c.routing,
    ]
    rows = conn.execute(select(*columns))
    for key_id, user_id, digest, models, tags, priority, expires_at, revoked_at, routing in rows:
        key_user[key_id] = user_id
        if revoked_at is not None:
            revoked[digest] = (key_id, revoked_at)
            continue
        team_id, org_id, role = placed[user_id]
        allowed = None if models is None else frozenset(models)
        routing = routing or {}
        principal = Principal(
            key_id, user_id, team_id, org_id, tuple(tags), role, allowed, priorities.get(priority),
            default_strategy=routing.get("strategy"), default_quality=routing.get("quality"),
        )  # fmt: skip
        live[digest] = KeyGrant(principal, expires_at)
    return Directory(live, revoked, DirectoryFacts(team_org, user_team, key_user))
