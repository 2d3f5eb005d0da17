"""Mounting the dashboard on the application: static assets, page routers, page errors."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from thrifty.ui import (
    alerts,
    analytics,
    approvals,
    budgets,
    catalog,
    decisions,
    overview,
    recommendations,
    rules_page,
    signin,
)
from thrifty.ui.api import ApiError
from thrifty.ui.render import render
from thrifty.ui.session import SignInRequired, current_viewer

STATIC = Path(__file__).parent / "static"
PAGES = (
    signin,
    overview,
    budgets,
    alerts,
    approvals,
    analytics,
    decisions,
    catalog,
    rules_page,
    recommendations,
)


async def _sign_in_first(request: Request, _: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)


async def _api_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    viewer = await current_viewer(request)
    status = exc.status if 400 <= exc.status < 600 else 500
    return render(request, viewer, "error.html", status_code=status, error=exc)


def install_dashboard(app: FastAPI) -> None:
    """Serve the dashboard at ``/`` (its assets under ``/ui/static``)."""
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    for page in PAGES:
        app.include_router(page.router)
    app.add_exception_handler(SignInRequired, _sign_in_first)
    app.add_exception_handler(ApiError, _api_refused)
