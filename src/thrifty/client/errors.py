"""The client's one exception tree, and the mapping from Thrifty's error responses to it.

Every error the client raises for an answer of the server (or for no answer) is a
``ThriftyError``; an agent catches :class:`Refused` (or one of its three kinds) to degrade:

    ThriftyError                status, code, field, message, request_id, body
     ├── Refused                refused before any model was called: degrade or stop
     │    ├── BudgetExhausted   402 budget_exceeded, blocked, request_cost_limit (budget_id)
     │    ├── ApprovalRequired  402 approval_required; 403 rule_requires_approval (a steering rule)
     │    └── SelectionFailed   no model can serve the request (400 on ``model`` when selecting)
     ├── InvalidRequest         400 / 422: the request is malformed (``field`` names what)
     ├── AuthenticationFailed   401: no, unknown, expired or revoked key
     ├── PermissionDenied       403: the key may not do this (a rule's deny too)
     ├── NotFound               404
     ├── Conflict               409: e.g. a hold retried with another amount
     ├── RateLimited            429 (retry_after_s)
     └── ServerUnavailable      5xx, or the server could not be reached (status None)

The server's error body is OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``
(plus ``budget_id`` on a 402); :func:`error_from_response` reads it, and :func:`gateway_error`
turns an OpenAI or Anthropic SDK error from the gateway into the same tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ThriftyError(Exception):
    """An error answer of Thrifty (``status`` None: no answer, or found out by the client)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
        request_id: str | None = None,
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.request_id = request_id
        self.body = body

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status}, code={self.code!r}, "
            f"field={self.field!r})"
        )


class Refused(ThriftyError):
    """The request was refused before any model was called; ``budget_id`` names the budget
    that refused it, when one did."""

    def __init__(self, message: str, *, budget_id: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.budget_id = budget_id


class BudgetExhausted(Refused):
    """A budget of the chain has no room for the request, blocks it, or caps a request's cost
    below it (``code``: ``budget_exceeded``, ``blocked`` or ``request_cost_limit``)."""


class ApprovalRequired(Refused):
    """The request needs an approved override first (a budget past its require-approval
    threshold, or a steering rule); request one with ``POST /api/v1/overrides``."""


class SelectionFailed(Refused):
    """No registered model can serve the request (capabilities, context or output length)."""


class InvalidRequest(ThriftyError):
    """The request is malformed; ``field`` names the offending field."""


class AuthenticationFailed(ThriftyError):
    pass


class PermissionDenied(ThriftyError):
    pass


class NotFound(ThriftyError):
    pass


class Conflict(ThriftyError):
    pass


class RateLimited(ThriftyError):
    """A rate limit of the chain refuses the request; retry after ``retry_after_s`` seconds."""

    def __init__(self, message: str, *, retry_after_s: int | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after_s = retry_after_s


class ServerUnavailable(ThriftyError):
    """The server failed (5xx) or could not be reached (``status`` None)."""


_BY_STATUS: dict[int, type[ThriftyError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
}
APPROVAL_CODE = "approval_required"
RULE_APPROVAL_CODE = "rule_requires_approval"


def _error_object(body: object) -> Mapping[str, Any]:
    """The ``error`` object of an error body (an SDK may hand over the object itself)."""
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            return inner
        if "message" in body:
            return body
    return {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def error_from_response(
    status: int,
    body: object,
    headers: Mapping[str, str] | None = None,
    *,
    selecting: bool = False,
) -> ThriftyError:
    """The error an answer of ``status`` with ``body`` means. ``selecting``: the request asked
    Thrifty to choose a model (``/api/v1/models/select`` or a gateway call), so a 400 on
    ``model`` means no model can serve it."""
    error = _error_object(body)
    headers = headers or {}
    message = _text(error.get("message")) or f"HTTP {status}"
    code = _text(error.get("code")) or _text(error.get("type"))
    field = _text(error.get("param"))
    details: dict[str, Any] = {
        "status": status,
        "code": code,
        "field": field,
        "request_id": headers.get("x-thrifty-request-id"),
        "body": body,
    }
    if status == 402:
        budget_id = _text(error.get("budget_id"))
        kind = ApprovalRequired if code == APPROVAL_CODE else BudgetExhausted
        return kind(message, budget_id=budget_id, **details)
    if status == 403 and code == RULE_APPROVAL_CODE:
        return ApprovalRequired(message, **details)
    if status == 400 and selecting and field == "model":
        return SelectionFailed(message, **details)
    if status == 429:
        return RateLimited(message, retry_after_s=_seconds(headers.get("retry-after")), **details)
    if status >= 500:
        return ServerUnavailable(message, **details)
    return _BY_STATUS.get(status, InvalidRequest)(message, **details)


def gateway_error(exc: BaseException) -> ThriftyError | None:
    """The :class:`ThriftyError` behind an OpenAI or Anthropic SDK error from the gateway
    (``APIStatusError``: it has ``status_code``, ``body`` and ``response``), else None.

    The OpenAI shape carries the refusal's code, so a 402 tells :class:`ApprovalRequired` from
    :class:`BudgetExhausted`; Anthropic's shape has no code, so every 402 there is the latter.
    """
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or status < 400:
        return None
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    error = error_from_response(
        status,
        getattr(exc, "body", None),
        headers if isinstance(headers, Mapping) else None,
        selecting=True,
    )
    error.__cause__ = exc
    return error
