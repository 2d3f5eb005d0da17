"""Wire schemas of the budget, override and extension endpoints, and their exact JSON route.

Amounts are checked by the budget core's parsers (``budgets.money.parse_usd``), not here, so
every error names its field the same way. They may be sent as decimal strings (``"12.50"``),
integers or JSON numbers: :class:`ExactJSONRoute` parses JSON numbers from their text into
``Decimal``, so ``0.1`` is exactly ``Decimal("0.1")`` and no amount passes through ``float``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema

_MONEY_SCHEMA = {
    "anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "number"}],
    "description": 'USD, a decimal string such as "12.50" (or an integer or JSON number)',
    "examples": ["100.00"],
}
#: A USD amount, parsed by ``parse_usd`` in the handler (so the error names the field).
Money = Annotated[Any, WithJsonSchema(_MONEY_SCHEMA)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
ModelIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=500)
]


class _ExactJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class ExactJSONRoute(APIRoute):
    """Parses request bodies with JSON numbers as ``Decimal`` (exact), never ``float``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(_ExactJSONRequest(request.scope, request.receive))

        return exact


class ScopeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Annotated[str, Field(description="organization | team | user | key | tag")]
    id: Annotated[str, Field(min_length=1, max_length=200)]


class CarryOverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    cap: Money = None


class BudgetBody(BaseModel):
    """A budget as the API takes it (and returns it)."""

    model_config = ConfigDict(extra="forbid")
    id: Identifier | None = None
    name: Annotated[str, Field(min_length=1, max_length=200)]
    scope: ScopeBody
    limit: Money
    period: Annotated[
        str, Field(description="daily | weekly | monthly | quarterly | yearly | custom")
    ]
    start_date: Annotated[str, Field(description="YYYY-MM-DD, local to the time zone")]
    end_date: Annotated[str | None, Field(description="custom periods only, inclusive")] = None
    timezone: Annotated[str, Field(description="IANA name, e.g. Europe/Berlin")] = "UTC"
    mode: Annotated[str, Field(description="hard | soft")] = "hard"
    models: ModelIds | None = None
    thresholds: Annotated[
        list[Any] | None,
        Field(
            max_length=50,
            description='[{"percent": 50, "actions": ["notify"]}, …]; default: the built-in ones',
        ),
    ] = None
    carry_over: CarryOverBody | None = None


class OverrideBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    budget_id: Identifier
    amount: Money
    models: ModelIds | None = None
    reason: Text
    expires_at: AwareDatetime
    requested_by: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text | None = None


class DenyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text


class ExtensionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money
    reason: Text
    expires_at: AwareDatetime
    starts_at: AwareDatetime | None = None
