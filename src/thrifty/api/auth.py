"""Who calls the admin API, and what that caller may see and change.

Two dependencies:

- ``require_admin`` (in :mod:`thrifty.api.state`): the admin key only; an API key gets 403.
- :func:`require_principal`: the admin key or any live API key, as a :class:`Caller`; the
  handler then checks visibility with :meth:`Caller.check_sees` / :meth:`Caller.sees`
  (the rules are in :mod:`thrifty.budgets.principal`).

A missing, unknown, expired or revoked key is a 401; a valid key that may not do something is
a 403 naming the field that points at what it may not touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from thrifty.api.state import AppState, authenticated
from thrifty.budgets.model import Scope, ScopeType
from thrifty.budgets.principal import DirectoryFacts, Principal, can_see
from thrifty.errors import PermissionDenied

_NAMES = {
    ScopeType.ORGANIZATION: "org",
    ScopeType.TEAM: "team",
    ScopeType.USER: "user",
    ScopeType.KEY: "key",
    ScopeType.TAG: "tag",
}


@dataclass(frozen=True, slots=True)
class Caller:
    state: AppState
    principal: Principal

    @property
    def facts(self) -> DirectoryFacts:
        """Membership facts from this process's snapshot (refreshed at once on own writes)."""
        return self.state.directory.get().facts

    def sees(self, scope_type: ScopeType, scope_id: str) -> bool:
        if self.principal.is_admin:
            return True
        return can_see(self.principal, Scope(scope_type, scope_id), self.facts)

    def check_sees(self, scope_type: ScopeType, scope_id: str, *, field: str = "id") -> None:
        if not self.sees(scope_type, scope_id):
            raise self.denied(f"may not see {_NAMES[scope_type]} {scope_id!r}", field=field)

    def denied(self, what: str, *, field: str | None = None) -> PermissionDenied:
        return PermissionDenied(f"API key {self.principal.key_id!r} {what}", field=field)


async def require_principal(request: Request) -> Caller:
    """Dependency of endpoints that API keys may read: the admin key or a live API key."""
    state, principal = await authenticated(request)
    return Caller(state, principal)


CallerDep = Annotated[Caller, Depends(require_principal)]
