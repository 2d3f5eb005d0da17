"""What the admin API's handlers share: settings, database, config, caches, the clock."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import anyio.to_thread
from fastapi import Request

from thrifty.api.process_metrics import ProcessMetrics
from thrifty.budgets.principal import Directory, Principal, hash_secret
from thrifty.config.loader import LoadedConfig
from thrifty.errors import AuthenticationFailed, PermissionDenied
from thrifty.routing.registry import ModelRegistry
from thrifty.settings import Settings
from thrifty.storage.cache import VersionedCache
from thrifty.storage.database import Database


@dataclass
class AppState:
    settings: Settings
    database: Database
    config: LoadedConfig
    registry: VersionedCache[ModelRegistry]
    admin_key: str
    clock: Callable[[], datetime]
    directory: VersionedCache[Directory]
    metrics: ProcessMetrics = field(default_factory=ProcessMetrics)

    def now(self) -> datetime:
        return self.clock()

    def authenticate(self, token: str) -> Principal:
        """The admin key (compared in constant time), else an API key from the snapshot."""
        if hmac.compare_digest(token.encode(), self.admin_key.encode()):
            return Principal.admin()
        return self.directory.get().resolve(token, self.now())

    def authenticate_digest(self, digest: str) -> Principal:
        """As :meth:`authenticate`, from the hash of the key (a dashboard session's)."""
        if hmac.compare_digest(digest.encode(), hash_secret(self.admin_key).encode()):
            return Principal.admin()
        return self.directory.get().resolve_digest(digest, self.now())


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.thrifty
    return state


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key")


#: The ASGI scope key under which the dashboard's in-process API calls carry their signed-in
#: principal (``thrifty.ui.api``). Only code in this process can put it there: a client's HTTP
#: request cannot set scope keys.
PRINCIPAL_SCOPE_KEY = "thrifty.principal"


async def authenticated(request: Request) -> tuple[AppState, Principal]:
    state = app_state(request)
    carried = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if isinstance(carried, Principal):
        return state, carried
    token = bearer_token(request)
    if token is None:
        raise AuthenticationFailed("missing API key: send Authorization: Bearer <key>")
    try:
        return state, state.authenticate(token)
    except AuthenticationFailed:
        # Perhaps a key another process made a moment ago: look again in a fresh snapshot.
        await anyio.to_thread.run_sync(state.directory.refresh)
        return state, state.authenticate(token)


async def require_admin(request: Request) -> AppState:
    """Dependency of admin-only endpoints: ``Authorization: Bearer <admin key>``."""
    state, principal = await authenticated(request)
    if not principal.is_admin:
        raise PermissionDenied(
            f"this endpoint needs the admin key; API key {principal.key_id!r} may not use it"
        )
    return state
