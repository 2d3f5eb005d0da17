"""Dashboard sign-in: a random session token in an HttpOnly cookie, its hash in the database.

Signing in checks the API key like any API call, then opens a session that remembers only the
key's *hash*. Each page resolves that hash through the same directory snapshot as API calls, so
a key that is revoked or expires ends its sessions at once. Forms carry a CSRF token derived
from the session token; a POST without it is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import anyio.to_thread
from fastapi import Request

from thrifty.api.state import AppState, app_state
from thrifty.budgets.principal import Principal, hash_secret
from thrifty.errors import AuthenticationFailed
from thrifty.storage import sessions_repo

COOKIE = "thrifty_session"


class SignInRequired(Exception):
    """No live session: the page redirects to the sign-in form."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in caller of one page request."""

    principal: Principal
    token: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin


def csrf_token(token: str) -> str:
    return hashlib.sha256(b"thrifty-csrf:" + token.encode()).hexdigest()


def csrf_matches(token: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(token), presented)


async def sign_in(state: AppState, key: str) -> tuple[str, Principal, timedelta]:
    """Check ``key`` as the API would (401 if it is not live) and open a session for it."""
    try:
        principal = state.authenticate(key)
    except AuthenticationFailed:
        await anyio.to_thread.run_sync(state.directory.refresh)  # perhaps a key made just now
        principal = state.authenticate(key)
    token = secrets.token_urlsafe(32)
    lasts = timedelta(hours=state.config.config.dashboard.session_hours)
    now = state.now()

    def write(conn):  # type: ignore[no-untyped-def]
        sessions_repo.open_session(
            conn, token_hash=hash_secret(token), key_hash=hash_secret(key),
            actor=principal.actor, now=now, expires_at=now + lasts,
        )  # fmt: skip

    await anyio.to_thread.run_sync(state.database.write, write)
    return token, principal, lasts


async def sign_out(state: AppState, token: str) -> None:
    digest = hash_secret(token)
    await anyio.to_thread.run_sync(
        state.database.write, lambda conn: sessions_repo.close_session(conn, digest)
    )


async def current_viewer(request: Request) -> Viewer | None:
    """The viewer of this request's session cookie, or ``None`` when it is not signed in."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    state = app_state(request)
    digest, now = hash_secret(token), state.now()
    key_hash = await anyio.to_thread.run_sync(
        state.database.read, lambda conn: sessions_repo.key_hash_of(conn, digest, now)
    )
    if key_hash is None:
        return None
    try:
        return Viewer(state.authenticate_digest(key_hash), token)
    except AuthenticationFailed:
        await anyio.to_thread.run_sync(state.directory.refresh)
        try:
            return Viewer(state.authenticate_digest(key_hash), token)
        except AuthenticationFailed:
            return None


async def require_viewer(request: Request) -> Viewer:
    """Dependency of every page but sign-in: the viewer, else a redirect to sign in."""
    viewer = await current_viewer(request)
    if viewer is None:
        raise SignInRequired
    return viewer
