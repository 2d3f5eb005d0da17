"""Organisation tree and API key endpoints: ``/api/v1/orgs``, ``/teams``, ``/users``, ``/keys``.

Orgs, teams and users are changed with the admin key only; any key may read what it can see.
Keys are issued and revoked by the admin key, by an org admin for its org's users and by a
team admin for its team's users; a key's own user may revoke it. A key's secret is returned
once, by ``POST /api/v1/keys``, and never again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection

from thrifty.api.auth import Caller, CallerDep
from thrifty.api.responses import FastJSONResponse
from thrifty.api.state import AppState, require_admin
from thrifty.budgets.model import Priority, Scope, ScopeType
from thrifty.budgets.principal import (
    DirectoryFacts,
    Role,
    can_issue_key,
    can_revoke_key,
    can_see,
)
from thrifty.config.schema import check_quality
from thrifty.errors import InvalidInput
from thrifty.routing.strategy import Strategy
from thrifty.storage import directory_repo as repo
from thrifty.storage.directory_repo import KeyRecord, OrgRecord, TeamRecord, UserRecord

router = APIRouter(prefix="/api/v1", tags=["organisation and keys"])
Admin = Annotated[AppState, Depends(require_admin)]
T = TypeVar("T")

SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Slug = Annotated[str, Field(pattern=SLUG)]
Reference = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Tag = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$")]
ModelId = Annotated[str, Field(min_length=1, max_length=200)]
IdPath = Annotated[str, Path(min_length=1, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrgBody(Strict):
    id: Slug | None = None
    name: Name


class TeamBody(Strict):
    id: Slug | None = None
    org_id: Reference
    name: Name


class UserBody(Strict):
    id: Slug | None = None
    team_id: Reference
    name: Name
    email: Email | None = None
    role: Literal["member", "team_admin", "org_admin"] = "member"


class KeyRouting(Strict):
    """The key's selection defaults, used where no header or rule says otherwise."""

    strategy: Strategy | None = None
    quality: Annotated[str, Field(min_length=1, max_length=16)] | None = None

    _quality = field_validator("quality")(check_quality)


class KeyBody(Strict):
    user_id: Reference
    name: Name
    allowed_models: Annotated[list[ModelId], Field(min_length=1, max_length=1000)] | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    expires_at: AwareDatetime | None = None
    default_priority: Literal["critical", "normal", "non-essential"] | None = None
    routing: KeyRouting | None = None


# --- wire format ---------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def org_json(org: OrgRecord) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "created_at": _time(org.created_at),
        "updated_at": _time(org.updated_at),
    }


def team_json(team: TeamRecord) -> dict[str, Any]:
    return org_json(OrgRecord(team.id, team.name, team.created_at, team.updated_at)) | {
        "org_id": team.org_id
    }


def user_json(user: UserRecord) -> dict[str, Any]:
    return {
        "id": user.id,
        "team_id": user.team_id,
        "name": user.name,
        "email": user.email,
        "role": user.role.value,
        "created_at": _time(user.created_at),
        "updated_at": _time(user.updated_at),
    }


def key_status(key: KeyRecord, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    return "expired" if key.expires_at is not None and now >= key.expires_at else "active"


def key_json(key: KeyRecord, now: datetime) -> dict[str, Any]:
    """A key as listed: never its secret, only the non-secret prefix that identifies it."""
    return {
        "id": key.id,
        "user_id": key.user_id,
        "name": key.name,
        "prefix": key.prefix,
        "allowed_models": None if key.allowed_models is None else list(key.allowed_models),
        "tags": list(key.tags),
        "default_priority": None if key.default_priority is None else key.default_priority.value,
        "routing": key.routing,
        "expires_at": _time(key.expires_at),
        "revoked_at": _time(key.revoked_at),
        "created_at": _time(key.created_at),
        "status": key_status(key, now),
    }


def _write(state: AppState, fn: Callable[[Connection], T]) -> T:
    """One write transaction, then this process's key snapshot is refreshed at once."""
    result = state.database.write(fn)
    state.directory.refresh()
    return result


def _same_id(path_id: str, body_id: str | None) -> None:
    if body_id is not None and body_id != path_id:
        raise InvalidInput(f"body id {body_id!r} differs from the path's {path_id!r}", field="id")


# --- organisations -------------------------------------------------------------------------


@router.post("/orgs", status_code=201, summary="Create an organisation")
def create_org(body: OrgBody, state: Admin) -> FastJSONResponse:
    org_id, actor, now = body.id or repo.new_id("org"), "admin", state.now()
    org = _write(
        state, lambda c: repo.insert_org(c, org_id=org_id, name=body.name, actor=actor, now=now)
    )
    return FastJSONResponse(org_json(org), status_code=201)


@router.get("/orgs", summary="The organisations this key can see")
def list_orgs(caller: CallerDep) -> FastJSONResponse:
    found = caller.state.database.read(repo.list_orgs)
    visible = [org_json(o) for o in found if caller.sees(ScopeType.ORGANIZATION, o.id)]
    return FastJSONResponse({"orgs": visible})


@router.get("/orgs/{org_id}", summary="One organisation")
def get_org(org_id: IdPath, caller: CallerDep) -> FastJSONResponse:
    caller.check_sees(ScopeType.ORGANIZATION, org_id, field="org_id")
    return FastJSONResponse(org_json(caller.state.database.read(lambda c: repo.get_org(c, org_id))))


@router.put("/orgs/{org_id}", summary="Rename an organisation")
def replace_org(org_id: IdPath, body: OrgBody, state: Admin) -> FastJSONResponse:
    _same_id(org_id, body.id)
    now = state.now()
    org = _write(
        state, lambda c: repo.update_org(c, org_id, name=body.name, actor="admin", now=now)
    )
    return FastJSONResponse(org_json(org))


@router.delete("/orgs/{org_id}", status_code=204, summary="Delete an empty organisation")
def delete_org(org_id: IdPath, state: Admin) -> Response:
    now = state.now()
    _write(state, lambda c: repo.delete_org(c, org_id, actor="admin", now=now))
    return Response(status_code=204)


# --- teams ---------------------------------------------------------------------------------


@router.post("/teams", status_code=201, summary="Create a team in one organisation")
def create_team(body: TeamBody, state: Admin) -> FastJSONResponse:
    team_id, now = body.id or repo.new_id("team"), state.now()
    team = _write(
        state,
        lambda c: repo.insert_team(
            c, team_id=team_id, org_id=body.org_id, name=body.name, actor="admin", now=now
        ),
    )
    return FastJSONResponse(team_json(team), status_code=201)


@router.get("/teams", summary="The teams this key can see")
def list_teams(
    caller: CallerDep, org_id: Annotated[str | None, Query(max_length=64)] = None
) -> FastJSONResponse:
    found = caller.state.database.read(lambda c: repo.list_teams(c, org_id=org_id))
    visible = [team_json(t) for t in found if caller.sees(ScopeType.TEAM, t.id)]
    return FastJSONResponse({"teams": visible})


@router.get("/teams/{team_id}", summary="One team")
def get_team(team_id: IdPath, caller: CallerDep) -> FastJSONResponse:
    caller.check_sees(ScopeType.TEAM, team_id, field="team_id")
    team = caller.state.database.read(lambda c: repo.get_team(c, team_id))
    return FastJSONResponse(team_json(team))


@router.put("/teams/{team_id}", summary="Rename a team (its organisation never changes)")
def replace_team(team_id: IdPath, body: TeamBody, state: Admin) -> FastJSONResponse:
    _same_id(team_id, body.id)
    now = state.now()
    team = _write(
        state,
        lambda c: repo.update_team(
            c, team_id, name=body.name, org_id=body.org_id, actor="admin", now=now
        ),
    )
    return FastJSONResponse(team_json(team))


@router.delete("/teams/{team_id}", status_code=204, summary="Delete an empty team")
def delete_team(team_id: IdPath, state: Admin) -> Response:
    now = state.now()
    _write(state, lambda c: repo.delete_team(c, team_id, actor="admin", now=now))
    return Response(status_code=204)


# --- users ---------------------------------------------------------------------------------


@router.post("/users", status_code=201, summary="Create a user in one team")
def create_user(body: UserBody, state: Admin) -> FastJSONResponse:
    user_id, now = body.id or repo.new_id("usr"), state.now()
    user = _write(
        state,
        lambda c: repo.insert_user(
            c,
            user_id=user_id,
            team_id=body.team_id,
            name=body.name,
            email=body.email,
            role=Role(body.role),
            actor="admin",
            now=now,
        ),
    )
    return FastJSONResponse(user_json(user), status_code=201)


@router.get("/users", summary="The users this key can see")
def list_users(
    caller: CallerDep, team_id: Annotated[str | None, Query(max_length=64)] = None
) -> FastJSONResponse:
    found = caller.state.database.read(lambda c: repo.list_users(c, team_id=team_id))
    visible = [user_json(u) for u in found if caller.sees(ScopeType.USER, u.id)]
    return FastJSONResponse({"users": visible})


@router.get("/users/{user_id}", summary="One user")
def get_user(user_id: IdPath, caller: CallerDep) -> FastJSONResponse:
    caller.check_sees(ScopeType.USER, user_id, field="user_id")
    user = caller.state.database.read(lambda c: repo.get_user(c, user_id))
    return FastJSONResponse(user_json(user))


@router.put("/users/{user_id}", summary="Replace a user (a new team_id moves the user)")
def replace_user(user_id: IdPath, body: UserBody, state: Admin) -> FastJSONResponse:
    _same_id(user_id, body.id)
    now = state.now()
    user = _write(
        state,
        lambda c: repo.update_user(
            c,
            user_id,
            team_id=body.team_id,
            name=body.name,
            email=body.email,
            role=Role(body.role),
            actor="admin",
            now=now,
        ),
    )
    return FastJSONResponse(user_json(user))


@router.delete("/users/{user_id}", status_code=204, summary="Delete a user with no live keys")
def delete_user(user_id: IdPath, state: Admin) -> Response:
    now = state.now()
    _write(state, lambda c: repo.delete_user(c, user_id, actor="admin", now=now))
    return Response(status_code=204)


# --- API keys ------------------------------------------------------------------------------


def _facts_of_user(conn: Connection, user_id: str, field: str) -> DirectoryFacts:
    """Where ``user_id`` sits, read in the caller's transaction (never from a stale cache)."""
    user = repo.get_user(conn, user_id, field=field)
    team = repo.get_team(conn, user.team_id)
    return DirectoryFacts({team.id: team.org_id}, {user.id: team.id})


def _validated_key_body(caller: Caller, body: KeyBody, now: datetime) -> None:
    if body.allowed_models is not None:
        registry = caller.state.registry.get()
        for index, model in enumerate(body.allowed_models):
            if model not in registry:
                raise InvalidInput(
                    f"model {model!r} is not registered", field=f"allowed_models.{index}"
                )
    if body.expires_at is not None and body.expires_at <= now:
        raise InvalidInput(
            f"expires_at {body.expires_at.isoformat()} is not in the future", field="expires_at"
        )


@router.post("/keys", status_code=201, summary="Issue an API key (its secret is shown once)")
def create_key(body: KeyBody, caller: CallerDep) -> FastJSONResponse:
    now = caller.state.now()
    _validated_key_body(caller, body, now)
    principal = caller.principal

    def issue(conn: Connection) -> tuple[KeyRecord, str]:
        facts = _facts_of_user(conn, body.user_id, "user_id")
        if not can_issue_key(principal, body.user_id, facts):
            raise caller.denied(f"may not issue keys for user {body.user_id!r}", field="user_id")
        return repo.insert_key(
            conn,
            user_id=body.user_id,
            name=body.name,
            allowed_models=None
            if body.allowed_models is None
            else sorted(set(body.allowed_models)),
            tags=list(dict.fromkeys(body.tags)),
            default_priority=None
            if body.default_priority is None
            else Priority(body.default_priority),
            expires_at=body.expires_at,
            actor=principal.actor,
            now=now,
            routing=None
            if body.routing is None
            else body.routing.model_dump(mode="json", exclude_none=True),
        )

    key, secret = _write(caller.state, issue)
    return FastJSONResponse(key_json(key, now) | {"secret": secret}, status_code=201)


def _visible_keys(caller: Caller, keys: list[KeyRecord]) -> list[KeyRecord]:
    if caller.principal.is_admin:
        return keys
    facts = replace(caller.facts, key_user={k.id: k.user_id for k in keys})
    return [k for k in keys if can_see(caller.principal, Scope(ScopeType.KEY, k.id), facts)]


@router.get("/keys", summary="The API keys this key can see (never their secrets)")
def list_keys(
    caller: CallerDep, user_id: Annotated[str | None, Query(max_length=64)] = None
) -> FastJSONResponse:
    found = caller.state.database.read(lambda c: repo.list_keys(c, user_id=user_id))
    now = caller.state.now()
    return FastJSONResponse({"keys": [key_json(k, now) for k in _visible_keys(caller, found)]})


@router.get("/me", summary="Who the calling key is: its key, user, team, organisation and tags")
def whoami(caller: CallerDep) -> FastJSONResponse:
    principal = caller.principal
    if principal.is_admin:
        return FastJSONResponse({"admin": True, "key": None, "user_id": None, "team_id": None,
                                 "org_id": None, "role": None, "tags": []})  # fmt: skip
    assert principal.key_id is not None
    key = caller.state.database.read(lambda c: repo.get_key(c, principal.key_id or ""))
    return FastJSONResponse({
        "admin": False, "key": key_json(key, caller.state.now()), "user_id": principal.user_id,
        "team_id": principal.team_id, "org_id": principal.org_id,
        "role": None if principal.role is None else principal.role.value,
        "tags": list(principal.tags),
    })  # fmt: skip


@router.get("/keys/{key_id}", summary="One API key (never its secret)")
def get_key(key_id: IdPath, caller: CallerDep) -> FastJSONResponse:
    key = caller.state.database.read(lambda c: repo.get_key(c, key_id))
    if not _visible_keys(caller, [key]):
        raise caller.denied(f"may not see key {key_id!r}", field="key_id")
    return FastJSONResponse(key_json(key, caller.state.now()))


def _revoke(caller: Caller, key_id: str) -> KeyRecord:
    principal, now = caller.principal, caller.state.now()

    def revoke(conn: Connection) -> KeyRecord:
        key = repo.get_key(conn, key_id)
        facts = replace(
            _facts_of_user(conn, key.user_id, "user_id"), key_user={key_id: key.user_id}
        )
        if not can_revoke_key(principal, key_id, facts):
            raise caller.denied(f"may not revoke key {key_id!r}", field="key_id")
        return repo.revoke_key(conn, key_id, actor=principal.actor, now=now)

    return _write(caller.state, revoke)


@router.post("/keys/{key_id}/revoke", summary="Revoke an API key from now on")
def revoke_key(key_id: IdPath, caller: CallerDep) -> FastJSONResponse:
    key = _revoke(caller, key_id)
    return FastJSONResponse(key_json(key, caller.state.now()))


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke an API key (same as /revoke)")
def delete_key(key_id: IdPath, caller: CallerDep) -> Response:
    _revoke(caller, key_id)
    return Response(status_code=204)
