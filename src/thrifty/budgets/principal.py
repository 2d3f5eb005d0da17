"""Who is calling: the principal an API key stands for, its budget chain and what it may see.

A :class:`Principal` is what authentication produces: the key, its user, the user's team and
organisation, the key's tags and the user's role. Requests are charged to its chain
(:func:`chain_scopes`). Visibility and management rights follow the organisation tree:

    admin key       sees and manages everything
    org_admin       sees its organisation, its teams, their users and their keys; manages
                    the teams, users and keys inside it (not the organisation itself)
    team_admin      sees its own chain, its team's users and their keys; manages those users'
                    keys (not the team itself)
    member          sees its own chain only (its key, itself, its team, its organisation and
                    its tags) and its user's other keys; changes nothing but may revoke its
                    own user's keys

The directory facts the rules need (team → org, user → team, key → user) are passed in as a
:class:`DirectoryFacts` value; nothing here does I/O. :class:`Directory` is the in-memory
snapshot that resolves a presented secret to a principal with one hash and one dict lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from thrifty.budgets.model import Priority, Scope, ScopeType
from thrifty.errors import AuthenticationFailed, InvalidInput

#: Every API key's secret starts with this; the rest is random url-safe text.
KEY_PREFIX = "thr_"


class Role(StrEnum):
    MEMBER = "member"
    TEAM_ADMIN = "team_admin"
    ORG_ADMIN = "org_admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a request. The admin key is ``Principal.admin()`` and has no chain."""

    key_id: str | None
    user_id: str | None
    team_id: str | None
    org_id: str | None
    tags: tuple[str, ...] = ()
    role: Role | None = None
    allowed_models: frozenset[str] | None = None
    default_priority: Priority | None = None
    is_admin: bool = False
    default_strategy: str | None = None  # the key's selection defaults (``routing``)
    default_quality: str | None = None

    @classmethod
    def admin(cls) -> Principal:
        return cls(None, None, None, None, is_admin=True)

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        return "admin" if self.is_admin else f"key:{self.key_id}"

    def may_use(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models


def chain_scopes(principal: Principal) -> tuple[Scope, ...]:
    """The scopes a request of ``principal`` is charged to: key, user, team, org, then tags."""
    chain = [
        Scope(kind, identifier)
        for kind, identifier in (
            (ScopeType.KEY, principal.key_id),
            (ScopeType.USER, principal.user_id),
            (ScopeType.TEAM, principal.team_id),
            (ScopeType.ORGANIZATION, principal.org_id),
        )
        if identifier is not None
    ]
    chain += [Scope(ScopeType.TAG, tag) for tag in principal.tags]
    return tuple(chain)


@dataclass(frozen=True, slots=True)
class DirectoryFacts:
    """Who belongs where: team → org, user → team, key → user (unknown ids are absent)."""

    team_org: Mapping[str, str] = field(default_factory=dict)
    user_team: Mapping[str, str] = field(default_factory=dict)
    key_user: Mapping[str, str] = field(default_factory=dict)

    def org_of(self, scope: Scope) -> str | None:
        """The organisation ``scope`` lies in (``None`` for tags and unknown ids)."""
        if scope.type is ScopeType.ORGANIZATION:
            return scope.id
        team = self.team_of(scope)
        return None if team is None else self.team_org.get(team)

    def team_of(self, scope: Scope) -> str | None:
        """The team ``scope`` lies in (``None`` for organisations, tags and unknown ids)."""
        if scope.type is ScopeType.TEAM:
            return scope.id
        user = self.user_of(scope)
        return None if user is None else self.user_team.get(user)

    def user_of(self, scope: Scope) -> str | None:
        if scope.type is ScopeType.USER:
            return scope.id
        if scope.type is ScopeType.KEY:
            return self.key_user.get(scope.id)
        return None


def charged_principal(
    facts: DirectoryFacts,
    *,
    key_id: str | None = None,
    user_id: str | None = None,
    team_id: str | None = None,
    org_id: str | None = None,
    tags: Sequence[str] = (),
    field: str = "principal",
) -> Principal:
    """The principal whose chain is charged for spend attributed to the most specific of these
    ids (the levels above filled in from the directory). Unknown ids, or none at all, are an
    ``InvalidInput`` naming ``field``'s member."""
    user = user_id or (facts.key_user.get(key_id) if key_id else None)
    team = team_id or (facts.user_team.get(user) if user else None)
    org = org_id or (facts.team_org.get(team) if team else None)
    checks = (("key_id", key_id, facts.key_user), ("user_id", user, facts.user_team),
              ("team_id", team, facts.team_org))  # fmt: skip
    for kind, value, known in checks:
        if value and value not in known:
            raise InvalidInput(
                f"unknown {kind.removesuffix('_id')} {value!r}", field=f"{field}.{kind}"
            )
    if not (key_id or user or team or org or tags):
        raise InvalidInput(
            "name at least one of key_id, user_id, team_id, org_id, tags", field=field
        )
    return Principal(key_id, user, team, org, tuple(tags))


def can_see(principal: Principal, scope: Scope, facts: DirectoryFacts) -> bool:
    """Whether ``principal`` may read ``scope`` (its entity, budgets and spend)."""
    if principal.is_admin or scope in chain_scopes(principal):
        return True
    owner = facts.key_user.get(scope.id) if scope.type is ScopeType.KEY else None
    if owner is not None and owner == principal.user_id:
        return True  # every key of one's own user
    return _inside_administered(principal, scope, facts, include_own_unit=True)


def can_manage(principal: Principal, scope: Scope, facts: DirectoryFacts) -> bool:
    """Whether ``principal`` may change ``scope``: its budgets, or the keys of a user scope.

    An organisation admin manages what is inside its organisation, a team admin the users of
    its team and their keys; neither manages its own organisation or team, and members
    manage nothing.
    """
    if principal.is_admin:
        return True
    return _inside_administered(principal, scope, facts, include_own_unit=False)


def can_issue_key(principal: Principal, user_id: str, facts: DirectoryFacts) -> bool:
    """Whether ``principal`` may create keys for ``user_id``."""
    return can_manage(principal, Scope(ScopeType.USER, user_id), facts)


def can_revoke_key(principal: Principal, key_id: str, facts: DirectoryFacts) -> bool:
    """Whether ``principal`` may revoke ``key_id``: its manager, or the key's own user."""
    owner = facts.key_user.get(key_id)
    if owner is not None and owner == principal.user_id:
        return True
    return can_manage(principal, Scope(ScopeType.KEY, key_id), facts)


def _inside_administered(
    principal: Principal, scope: Scope, facts: DirectoryFacts, *, include_own_unit: bool
) -> bool:
    if principal.role is Role.ORG_ADMIN and principal.org_id is not None:
        if scope.type is ScopeType.ORGANIZATION:
            return include_own_unit and scope.id == principal.org_id
        return facts.org_of(scope) == principal.org_id
    if principal.role is Role.TEAM_ADMIN and principal.team_id is not None:
        if scope.type is ScopeType.TEAM:
            return include_own_unit and scope.id == principal.team_id
        if scope.type in (ScopeType.USER, ScopeType.KEY):
            return facts.team_of(scope) == principal.team_id
    return False


def hash_secret(secret: str) -> str:
    """The SHA-256 hex digest under which a key's secret is stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """A live key in the snapshot: what it authenticates as, and until when."""

    principal: Principal
    expires_at: datetime | None


class Directory:
    """An immutable snapshot of the organisation tree and every key, for resolving secrets.

    ``live`` maps the secret hash of each non-revoked key to its grant; ``revoked`` maps the
    hash of each revoked key to ``(key id, revoked at)`` so a refusal can say why.
    """

    __slots__ = ("facts", "live", "revoked")

    def __init__(
        self,
        live: Mapping[str, KeyGrant],
        revoked: Mapping[str, tuple[str, datetime]],
        facts: DirectoryFacts,
    ) -> None:
        self.live = dict(live)
        self.revoked = dict(revoked)
        self.facts = facts

    def resolve(self, secret: str, now: datetime) -> Principal:
        """The principal of ``secret`` at ``now``; expired, revoked or unknown → 401."""
        return self.resolve_digest(hash_secret(secret), now)

    def resolve_digest(self, digest: str, now: datetime) -> Principal:
        """As :meth:`resolve`, from the secret's hash (what a dashboard session keeps)."""
        grant = self.live.get(digest)
        if grant is None:
            gone = self.revoked.get(digest)
            if gone is not None:
                key_id, revoked_at = gone
                raise AuthenticationFailed(
                    f"API key {key_id!r} was revoked at {revoked_at.isoformat()}"
                )
            raise AuthenticationFailed("invalid API key")
        if grant.expires_at is not None and now >= grant.expires_at:
            raise AuthenticationFailed(
                f"API key {grant.principal.key_id!r} expired at {grant.expires_at.isoformat()}"
            )
        return grant.principal
