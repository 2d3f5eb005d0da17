"""The gateway's edge: authentication, reading bodies, and errors in each API's own shape."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from thrifty.api.errors import status_of
from thrifty.api.state import AppState
from thrifty.budgets.model import Priority, parse_priority
from thrifty.budgets.principal import Principal
from thrifty.errors import (
    AuthenticationFailed,
    BudgetRefused,
    InvalidInput,
    RateLimited,
    ThriftyError,
)
from thrifty.logs import REQUEST_ID
from thrifty.providers.client import UpstreamError

MAX_BODY_BYTES = 16 * 1024 * 1024


def new_request_id() -> str:
    """A new request's id; the logs of this request's context carry it from now on."""
    request_id = "req_" + uuid.uuid4().hex
    REQUEST_ID.set(request_id)
    return request_id


def token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def authenticate(state: AppState, request: Request) -> Principal:
    token = token_of(request)
    if token is None:
        raise AuthenticationFailed(
            "missing API key: send Authorization: Bearer <key> (or x-api-key)"
        )
    principal = state.authenticate(token)
    if principal.is_admin:
        raise AuthenticationFailed(
            "the admin key cannot call models: use an API key (POST /api/v1/keys)"
        )
    return principal


async def read_json(request: Request) -> dict[str, Any]:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise InvalidInput(f"body larger than {MAX_BODY_BYTES} bytes", field="body")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInput(f"body larger than {MAX_BODY_BYTES} bytes", field="body")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc}", field="body") from None
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object", field="body")
    return body


def request_marks(
    request: Request, body: Mapping[str, Any]
) -> tuple[Priority | None, list[str], dict[str, Any]]:
    """Priority, tags and metadata from ``x-thrifty-*`` headers and the body's own fields."""
    metadata: dict[str, Any] = {}
    if isinstance(body.get("metadata"), dict):
        metadata.update(body["metadata"])
    if isinstance(body.get("user"), str):
        metadata["user"] = body["user"]
    header = request.headers.get("x-thrifty-metadata")
    if header:
        try:
            parsed = orjson.loads(header)
        except orjson.JSONDecodeError:
            raise InvalidInput(
                "x-thrifty-metadata is not JSON", field="x-thrifty-metadata"
            ) from None
        if not isinstance(parsed, dict):
            raise InvalidInput(
                "x-thrifty-metadata must be a JSON object", field="x-thrifty-metadata"
            )
        metadata.update(parsed)
    priority_text = request.headers.get("x-thrifty-priority") or metadata.get("priority")
    priority = None
    if priority_text is not None:
        priority = parse_priority(priority_text, field="x-thrifty-priority")
    tags = [t.strip() for t in request.headers.get("x-thrifty-tags", "").split(",") if t.strip()]
    for tag in tags:
        if len(tag) > 200:
            raise InvalidInput("a tag is longer than 200 characters", field="x-thrifty-tags")
    return priority, tags, metadata


def _status(exc: ThriftyError) -> int:
    if isinstance(exc, UpstreamError):
        return exc.status if exc.status < 500 or not exc.retryable else 502
    return status_of(exc)[0]


def openai_error(exc: ThriftyError, request_id: str) -> Response:
    status = _status(exc)
    kind = status_of(exc)[1] if not isinstance(exc, UpstreamError) else "upstream_error"
    error: dict[str, Any] = {
        "message": exc.message,
        "type": kind,
        "param": exc.field,
        "code": exc.code,
    }
    if isinstance(exc, BudgetRefused):
        error["budget_id"] = exc.budget_id
    headers = {"x-thrifty-request-id": request_id}
    if isinstance(exc, UpstreamError) and exc.status == 429:
        headers["retry-after"] = "1"
    if isinstance(exc, RateLimited):
        error["rate_limit"] = {"id": exc.limit_id, "scope": exc.scope, "limit": exc.kind}
        headers.update(exc.headers)
    return Response(orjson.dumps({"error": error}), status, headers, "application/json")


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
}


def anthropic_error(exc: ThriftyError, request_id: str) -> Response:
    status = _status(exc)
    kind = _ANTHROPIC_TYPES.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": exc.message}}
    headers = {"x-thrifty-request-id": request_id, "request-id": request_id}
    if isinstance(exc, RateLimited):
        headers.update(exc.headers)
    return Response(orjson.dumps(body), status, headers, "application/json")


def success_headers(ctx: Any, model: str, cost: str | None) -> dict[str, str]:
    """The gateway's own headers on an answer (``ctx`` is the call's ``CallContext``)."""
    headers = {"x-thrifty-request-id": ctx.request_id, "x-thrifty-model": model}
    if ctx.decision is not None:
        headers["x-thrifty-decision-id"] = ctx.decision.id
    if cost is not None:
        headers["x-thrifty-cost-usd"] = cost
    return headers


def quality_header(request: Request) -> str | None:
    """The caller's quality requirement (``x-thrifty-quality``: low, medium, high or 0..1)."""
    return request.headers.get("x-thrifty-quality") or None
