"""What every page handler shares: the viewer dependency and its API client."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from thrifty.ui.api import DashboardApi
from thrifty.ui.session import Viewer, require_viewer

ViewerDep = Annotated[Viewer, Depends(require_viewer)]


def page_router() -> APIRouter:
    """A router of dashboard pages (HTML, kept out of the API's OpenAPI schema)."""
    return APIRouter(include_in_schema=False)


def api_for(request: Request, viewer: Viewer) -> DashboardApi:
    """The API as ``viewer`` (use as ``async with api_for(request, viewer) as api``)."""
    return DashboardApi(request.app, viewer.principal)
