"""The only place where errors become HTTP responses (OpenAI's error shape everywhere).

{"error": {"message": "...", "type": "invalid_request_error", "param": "field.path",
           "code": "..."}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from thrifty import errors
from thrifty.api.responses import FastJSONResponse

log = logging.getLogger("thrifty.api")

_STATUS: list[tuple[type[errors.ThriftyError], int, str]] = [
    (errors.UnknownModel, 404, "invalid_request_error"),
    (errors.InvalidInput, 400, "invalid_request_error"),
    (errors.NotFound, 404, "not_found_error"),
    (errors.Conflict, 409, "conflict_error"),
    (errors.AuthenticationFailed, 401, "authentication_error"),
    (errors.PermissionDenied, 403, "permission_error"),
    (errors.PricingError, 422, "invalid_request_error"),
    (errors.BudgetRefused, 402, "budget_exceeded"),
    (errors.RateLimited, 429, "rate_limit_error"),
    (errors.StorageError, 503, "service_unavailable"),
    (errors.ConfigError, 400, "invalid_request_error"),
]


def error_body(message: str, kind: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def status_of(exc: errors.ThriftyError) -> tuple[int, str]:
    for cls, status, kind in _STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "server_error"


async def _thrifty_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, errors.ThriftyError)
    status, kind = status_of(exc)
    if status >= 500:
        log.error("request failed: %s", exc.message)
    message = exc.message
    if exc.field and not message.startswith(exc.field):
        message = f"{exc.field}: {message}"
    body = error_body(message, kind, exc.code, exc.field)
    if isinstance(exc, errors.BudgetRefused):
        body["error"]["budget_id"] = exc.budget_id
    if isinstance(exc, errors.RateLimited):
        return FastJSONResponse(body, status_code=status, headers=exc.headers)
    return FastJSONResponse(body, status_code=status)


def field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _validation_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = exc.errors()
    first = problems[0] if problems else {"loc": ("body",), "msg": "invalid request"}
    param = field_path(tuple(first["loc"]))
    if first.get("type") == "json_invalid":
        message = f"body is not valid JSON: {first.get('ctx', {}).get('error', 'parse error')}"
        param = "body"
    else:
        message = f"{param}: {first['msg']}"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem(s))"
    body = error_body(message, "invalid_request_error", "invalid_request", param)
    body["error"]["details"] = [
        {"param": field_path(tuple(p["loc"])), "message": p["msg"]} for p in problems[:20]
    ]
    return FastJSONResponse(body, status_code=422 if param != "body" else 400)


async def _http_error(request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, HTTPException)
    kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return FastJSONResponse(
        error_body(str(exc.detail), kind, f"http_{exc.status_code}"),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> FastJSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return FastJSONResponse(
        error_body("internal error; the request was not applied", "server_error", "internal"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.ThriftyError, _thrifty_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
