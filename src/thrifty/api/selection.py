"""Model selection without a call: ``POST /api/v1/models/select`` and the fallback chains.

The selection runs the gateway's own steering (analysis, rules, budget restrictions, scoring)
for the caller's chain — an API key's own, or the principal the admin key names — and returns
the decision with every alternative and why it lost. Nothing is stored and nothing is held.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from thrifty.api.auth import Caller, CallerDep
from thrifty.api.ledger import ChainBody, principal_for
from thrifty.api.responses import FastJSONResponse
from thrifty.api.schemas import ChatRequestBody
from thrifty.budgets.model import Priority
from thrifty.budgets.principal import Principal
from thrifty.errors import PermissionDenied
from thrifty.gateway.steering import Steered, Steering, SteeringInput
from thrifty.rules import RuleSet

router = APIRouter(prefix="/api/v1", tags=["selection"])


class SelectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: ChatRequestBody
    path: Annotated[str, Field(min_length=1, max_length=200)] = "/v1/chat/completions"
    quality: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    """As the ``x-thrifty-quality`` header: low, medium, high or a number in (0, 1]."""
    priority: Priority | None = None
    tags: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    principal: ChainBody | None = None
    """Admin key only: whose chain to select for (default: no chain, no budgets)."""

    def steering_input(self) -> SteeringInput:
        """The request as steering sees it (as the gateway would see it)."""
        priced = self.request.priced()
        return SteeringInput(
            path=self.path,
            requested_model=self.request.model,
            messages=priced.messages,
            max_tokens=priced.max_tokens,
            tools=self.request.tools,
            response_format=self.request.response_format,
            quality=self.quality,
        )


def select_principal(caller: Caller, body: ChainBody | None) -> Principal:
    if caller.principal.is_admin and body is None:
        return Principal.admin()
    if not caller.principal.is_admin and body is not None:
        raise PermissionDenied("an API key selects for its own chain only", field="principal")
    return principal_for(caller, body)


async def run_steering(
    request: Request, caller: Caller, body: SelectBody, rules: RuleSet | None = None
) -> Steered:
    """Steer ``body.request`` as the gateway would, for the caller's chain."""
    steering: Steering = request.app.state.steering
    principal = select_principal(caller, body.principal)
    tags = tuple(dict.fromkeys([*principal.tags, *body.tags]))
    return await steering.steer(
        body.steering_input(),
        principal,
        caller.state.registry.get(),
        priority=body.priority or principal.default_priority or Priority.NORMAL,
        tags=tags,
        metadata=body.metadata,
        request_id="select",
        now=caller.state.now(),
        rules=rules,
    )


@router.post("/models/select", summary="Select the model for a request and explain the choice")
async def select(body: SelectBody, request: Request, caller: CallerDep) -> FastJSONResponse:
    steered = await run_steering(request, caller, body)
    explanation = dict(steered.record.body)
    explanation.pop("decisionId", None)
    return FastJSONResponse({**explanation, "selectedModel": steered.chain[0]})


@router.get("/models/fallbacks/{model_id:path}", summary="A model's fallback chain")
async def fallbacks(
    caller: CallerDep, model_id: Annotated[str, Path(min_length=1, max_length=200)]
) -> FastJSONResponse:
    registry = caller.state.registry.get()
    profile = registry.get(model_id, field="modelId")
    chain: list[dict[str, Any]] = []
    for position, fallback in enumerate(profile.fallbacks, start=1):
        other = registry.profiles.get(fallback)
        chain.append(
            {
                "position": position,
                "model": fallback,
                "provider": other.provider if other else None,
                "registered": other is not None,
                "allowed": caller.principal.may_use(fallback),
            }
        )
    return FastJSONResponse({"model": profile.id, "provider": profile.provider, "fallbacks": chain})
