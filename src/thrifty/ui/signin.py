"""``/signin`` and ``/signout``: a session for an API key (or the admin key)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from thrifty.api.state import app_state
from thrifty.errors import AuthenticationFailed
from thrifty.ui.forms import read_form
from thrifty.ui.pages import ViewerDep, page_router
from thrifty.ui.render import redirect, render
from thrifty.ui.session import COOKIE, current_viewer, sign_in, sign_out

router = page_router()


def _local(target: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    if not target or any(c in target for c in "\\\t\r\n ") or not target.isprintable():
        return "/"  # browsers drop tabs and newlines: "/\t/evil.example" would leave the site
    parts = urlsplit(target)
    if (
        target.startswith("/")
        and not target.startswith("//")
        and not (parts.scheme or parts.netloc)
    ):
        return target
    return "/"


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request, next: str | None = None) -> Response:
    if await current_viewer(request) is not None:
        return RedirectResponse(_local(next), status_code=303)
    return render(request, None, "signin.html", next=_local(next), errors={})


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    data = await request.form()
    key = str(data.get("key") or "").strip()
    target = _local(str(data.get("next") or "/"))
    origin = request.headers.get("origin")
    if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
        errors = {"_form": "sign-in from another site is refused"}
        return render(request, None, "signin.html", status_code=403, next=target, errors=errors)
    if not key:
        errors = {"key": "enter an API key"}
        return render(request, None, "signin.html", status_code=400, next=target, errors=errors)
    try:
        token, _, lasts = await sign_in(app_state(request), key)
    except AuthenticationFailed as refused:
        errors = {"key": str(refused)}
        return render(request, None, "signin.html", status_code=401, next=target, errors=errors)
    response = redirect(target)
    response.set_cookie(
        COOKIE, token, max_age=int(lasts.total_seconds()), path="/", httponly=True,
        samesite="lax", secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.post("/signout")
async def signout(request: Request, viewer: ViewerDep) -> Response:
    await read_form(request, viewer)
    await sign_out(app_state(request), viewer.token)
    response = redirect("/signin", "Signed out.")
    response.delete_cookie(COOKIE, path="/")
    return response
