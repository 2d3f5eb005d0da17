"""How error answers map to the client's exception tree, and how answers are read (no server:
the mapping is a pure function of status, body and headers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from thrifty.client import (
    ApprovalRequired,
    AuthenticationFailed,
    BudgetExhausted,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    SelectionFailed,
    ServerUnavailable,
    ThriftyError,
    error_from_response,
)
from thrifty.client._http import Call
from thrifty.client.budgets import BudgetStatus
from thrifty.client.results import usd


def _body(code: str | None, message: str = "no", param: str | None = None, **extra: Any) -> dict:
    return {"error": {"message": message, "type": "x", "param": param, "code": code, **extra}}


@pytest.mark.parametrize(
    ("status", "body", "selecting", "kind"),
    [
        (402, _body("budget_exceeded", budget_id="b1"), False, BudgetExhausted),
        (402, _body("blocked"), False, BudgetExhausted),
        (402, _body("request_cost_limit"), False, BudgetExhausted),
        (402, _body("approval_required"), False, ApprovalRequired),
        (403, _body("rule_requires_approval", "rule requires approval"), True, ApprovalRequired),
        (403, _body("denied_by_rule", "denied by rule 'no-opus': no"), True, PermissionDenied),
        (403, _body("permission_denied"), False, PermissionDenied),
        (400, _body("invalid_request", "no model can serve", "model"), True, SelectionFailed),
        (400, _body("invalid_request", "model: bad", "model"), False, InvalidRequest),
        (422, _body("invalid_request", param="amount"), False, InvalidRequest),
        (401, _body("authentication_failed"), False, AuthenticationFailed),
        (404, _body("not_found"), False, NotFound),
        (409, _body("conflict"), False, Conflict),
        (429, _body("rate_limit_exceeded"), False, RateLimited),
        (503, _body("storage_unavailable"), False, ServerUnavailable),
        (502, "Bad Gateway", False, ServerUnavailable),
        (418, None, False, InvalidRequest),
    ],
)
def test_each_answer_maps_to_its_error(
    status: int, body: object, selecting: bool, kind: type[ThriftyError]
) -> None:
    error = error_from_response(status, body, {"retry-after": "7"}, selecting=selecting)
    assert type(error) is kind and error.status == status and error.body == body


def test_the_error_names_field_code_budget_and_request() -> None:
    body = _body("budget_exceeded", "budget 'b1' has 0 USD left", None, budget_id="b1")
    error = error_from_response(402, body, {"x-thrifty-request-id": "req_1"})
    assert isinstance(error, BudgetExhausted)
    assert (error.code, error.budget_id, error.request_id) == ("budget_exceeded", "b1", "req_1")
    assert error.message == "budget 'b1' has 0 USD left" and str(error) == error.message
    limited = error_from_response(429, _body("rate_limit_exceeded"), {"retry-after": "12"})
    assert isinstance(limited, RateLimited) and limited.retry_after_s == 12
    invalid = error_from_response(422, _body("invalid_request", "amount: bad", "amount"))
    assert invalid.field == "amount" and "field='amount'" in repr(invalid)
    # Anthropic's shape: no code, the type stands in for it.
    anthropic = {"type": "error", "error": {"type": "billing_error", "message": "out"}}
    billing = error_from_response(402, anthropic)
    assert isinstance(billing, BudgetExhausted) and billing.code == "billing_error"
    # An SDK may hand over the inner error object.
    inner = error_from_response(402, {"message": "later", "code": "approval_required"})
    assert isinstance(inner, ApprovalRequired) and inner.message == "later"
    assert error_from_response(500, b"").message == "HTTP 500"


def test_answers_are_read_exactly_and_checked() -> None:
    call = Call("GET", "/api/v1/budgets/b/status", BudgetStatus.from_json)
    with pytest.raises(ThriftyError, match="unexpected answer"):
        call.result(httpx.Response(200, json={"budgetId": "b"}))
    with pytest.raises(NotFound):
        call.result(httpx.Response(404, text="not json"))
    assert usd("0.000000001") == Decimal("1E-9") and usd(3) == Decimal(3)
    for bad in (0.1, "lots", "NaN", None, True):
        with pytest.raises(ThriftyError, match="unexpected answer"):
            usd(bad)
