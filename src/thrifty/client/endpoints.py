"""The admin API endpoints the client uses, as :class:`Call` values and :data:`Plan` steps.

Nothing here sends anything; ``Client`` and ``AsyncClient`` do. Amounts go out as decimal
strings (a float is refused: money is ``Decimal``), path segments are quoted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from thrifty.client._http import Call, Plan
from thrifty.client.budgets import (
    Budget,
    BudgetStatus,
    ChainStatus,
    Identity,
    ScopeStatus,
    budgets_from_json,
    identity_from_json,
)
from thrifty.client.results import (
    CostEstimate,
    Hold,
    Selection,
    Settlement,
    Usage,
)

API = "/api/v1"
Messages = Sequence[Mapping[str, Any]]


def new_request_id(prefix: str = "op") -> str:
    """A fresh request id for a hold (holds are idempotent by request id)."""
    return f"{prefix}_{uuid.uuid4().hex}"


def amount_text(amount: Decimal | int, *, name: str = "amount") -> str:
    """``amount`` as the API's decimal string; floats are refused, not rounded."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(f"{name} must be a Decimal (or int), not {type(amount).__name__}")
    if not Decimal(amount).is_finite():
        raise ValueError(f"{name} must be finite, not {amount}")
    return format(Decimal(amount), "f")


def _segment(value: str) -> str:
    return quote(value, safe="")


def _chat_request(
    model: str,
    messages: Messages,
    max_tokens: int | None,
    tools: Sequence[Mapping[str, Any]] | None,
    response_format: Mapping[str, Any] | None,
) -> dict[str, Any]:
    request: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages]}
    if max_tokens is not None:
        request["max_tokens"] = max_tokens
    if tools is not None:
        request["tools"] = [dict(t) for t in tools]
    if response_format is not None:
        request["response_format"] = dict(response_format)
    return request


def list_budgets() -> Call[list[Budget]]:
    return Call("GET", f"{API}/budgets", budgets_from_json)


def budget_status(budget_id: str) -> Call[BudgetStatus]:
    return Call("GET", f"{API}/budgets/{_segment(budget_id)}/status", BudgetStatus.from_json)


def scope_status(scope_type: str, scope_id: str) -> Call[ScopeStatus]:
    path = f"{API}/budgets/status/{_segment(scope_type)}/{_segment(scope_id)}"
    return Call("GET", path, ScopeStatus.from_json)


def estimate(
    model: str,
    messages: Messages,
    *,
    alternatives: Sequence[str] = (),
    max_tokens: int | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    response_format: Mapping[str, Any] | None = None,
) -> Call[CostEstimate]:
    body = {
        "request": _chat_request(model, messages, max_tokens, tools, response_format),
        "alternatives": list(alternatives),
    }
    return Call("POST", f"{API}/cost/estimate", CostEstimate.from_json, body)


def select(
    messages: Messages,
    *,
    model: str = "auto",
    max_tokens: int | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    response_format: Mapping[str, Any] | None = None,
    quality: str | None = None,
    priority: str | None = None,
    tags: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
) -> Call[Selection]:
    body: dict[str, Any] = {
        "request": _chat_request(model, messages, max_tokens, tools, response_format),
        "tags": list(tags),
        "metadata": dict(metadata or {}),
    }
    if quality is not None:
        body["quality"] = quality
    if priority is not None:
        body["priority"] = priority
    return Call("POST", f"{API}/models/select", Selection.from_json, body, selecting=True)


def place_hold(
    amount: Decimal | int,
    *,
    request_id: str,
    ttl_s: int = 600,
    model: str | None = None,
    priority: str | None = None,
    tags: Sequence[str] = (),
) -> Call[Hold]:
    body: dict[str, Any] = {
        "request_id": request_id,
        "amount": amount_text(amount),
        "ttl_s": ttl_s,
    }
    if model is not None:
        body["model"] = model
    if priority is not None:
        body["priority"] = priority
    if tags:
        body["tags"] = list(tags)
    return Call("POST", f"{API}/ledger/holds", Hold.from_json, body)


def settle_hold(
    request_id: str, actual_cost: Decimal | int | None = None, *, usage: Usage | None = None
) -> Call[Settlement]:
    body: dict[str, Any] = {}
    if actual_cost is not None:
        body["actual_cost"] = amount_text(actual_cost, name="actual_cost")
    if usage is not None:
        body["usage"] = usage.json()
    path = f"{API}/ledger/holds/{_segment(request_id)}/settle"
    return Call("POST", path, Settlement.from_json, body)


def void_hold(request_id: str) -> Call[bool]:
    """Voiding answers whether this call released the hold (False: already voided/expired)."""
    path = f"{API}/ledger/holds/{_segment(request_id)}/void"
    return Call("POST", path, lambda data: not data["replayed"])


def _one(kind: str, identifier: str) -> Call[Any]:
    return Call("GET", f"{API}/{kind}/{_segment(identifier)}", dict)


def identity() -> Call[Identity]:
    """The caller's key, user, team, organisation and tags (``GET /api/v1/me``): the chain the
    gateway charges its requests to."""
    return Call("GET", f"{API}/me", identity_from_json)


def chain_status(identity: Identity) -> Plan[ChainStatus]:
    """The status of every scope of ``identity``'s chain, key first."""
    found = []
    for scope in identity.scopes:
        found.append((yield scope_status(scope.type, scope.id)))
    return ChainStatus(identity, tuple(found))
