"""``GET /healthz``: the process answers and its database is reachable."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from thrifty import __version__
from thrifty.api.responses import FastJSONResponse
from thrifty.api.state import app_state
from thrifty.errors import StorageError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability (no authentication)")
def healthz(request: Request) -> FastJSONResponse:
    state = app_state(request)
    try:
        state.database.read(lambda conn: conn.execute(text("SELECT 1")).scalar())
    except StorageError as exc:
        body = {"status": "degraded", "database": exc.message, "version": __version__}
        return FastJSONResponse(body, status_code=503)
    return FastJSONResponse({"status": "ok", "database": "ok", "version": __version__})
