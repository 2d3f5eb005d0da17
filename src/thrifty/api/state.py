"""What the admin API's handlers share: settings, database, config, caches, the clock."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import Request

from thrifty.config.loader import LoadedConfig
from thrifty.errors import AuthenticationFailed
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

    def now(self) -> datetime:
        return self.clock()


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.thrifty
    return state


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key")


async def require_admin(request: Request) -> AppState:
    """Dependency of every admin endpoint: ``Authorization: Bearer <admin key>``."""
    state = app_state(request)
    token = bearer_token(request)
    if token is None:
        raise AuthenticationFailed("missing API key: send Authorization: Bearer <key>")
    if not hmac.compare_digest(token.encode(), state.admin_key.encode()):
        raise AuthenticationFailed("invalid API key")
    return state
