"""Cost estimate endpoints: one request on some models, on all models, or many requests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from thrifty.api.responses import FastJSONResponse, money
from thrifty.api.schemas import ChatRequestBody
from thrifty.api.state import AppState, require_admin
from thrifty.errors import InvalidInput, ThriftyError
from thrifty.routing.estimates import (
    ModelEstimate,
    ModelTotal,
    accumulate,
    cheapest_fit,
    estimate_across,
)

router = APIRouter(prefix="/api/v1", tags=["estimates"])
Admin = Annotated[AppState, Depends(require_admin)]


class CostEstimateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: ChatRequestBody
    alternatives: Annotated[list[str], Field(max_length=500)] = Field(default_factory=list)


class ModelsEstimateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: ChatRequestBody


class BatchItem(ChatRequestBody):
    id: str | None = None


class BatchEstimateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requests: Annotated[list[BatchItem], Field(min_length=1, max_length=10_000)]
    alternatives: Annotated[list[str], Field(max_length=500)] = Field(default_factory=list)


def estimate_json(item: ModelEstimate) -> dict[str, Any]:
    e = item.estimate
    return {
        "model": item.model,
        "estimatedInputTokens": e.input_tokens,
        "estimatedOutputTokens": e.output_tokens,
        "estimatedTokens": e.total_tokens,
        "estimatedCost": money(e.cost),
        "worstCaseOutputTokens": e.worst_case_output_tokens,
        "worstCaseCost": money(e.worst_case_cost),
        "budgetImpact": None,
        "eligible": item.unfit is None,
        "reason": item.unfit,
        "exactInputTokens": e.exact_input,
        "outputSource": e.output_source,
        "priceSource": item.price_source,
    }


def _estimate(
    state: AppState, request: ChatRequestBody, alternatives: list[str], prefix: str
) -> list[ModelEstimate]:
    registry = state.registry.get()
    registry.get(request.model, field=f"{prefix}.model")
    return estimate_across(request.priced(), [request.model, *alternatives], registry, state.now())


@router.post("/cost/estimate", summary="Estimate a request's cost on its model and alternatives")
async def cost_estimate(body: CostEstimateBody, state: Admin) -> FastJSONResponse:
    estimates = _estimate(state, body.request, body.alternatives, "request")
    return FastJSONResponse(
        {
            "estimates": [estimate_json(e) for e in estimates],
            "recommendation": cheapest_fit(estimates),
            "pricedAt": state.now().isoformat(),
        }
    )


@router.post("/models/estimate", summary="Estimate a request's cost on every registered model")
async def models_estimate(body: ModelsEstimateBody, state: Admin) -> FastJSONResponse:
    registry = state.registry.get()
    registry.get(body.request.model, field="request.model")
    ids = [body.request.model, *(p.id for p in registry if p.id != body.request.model)]
    estimates = estimate_across(body.request.priced(), ids, registry, state.now())
    ordered = sorted(estimates, key=lambda e: (e.unfit is not None, e.estimate.cost, e.model))
    return FastJSONResponse(
        {
            "estimates": [estimate_json(e) for e in ordered],
            "recommendation": cheapest_fit(estimates),
            "pricedAt": state.now().isoformat(),
        }
    )


@router.post("/cost/estimate/batch", summary="Estimate many requests, with per-model totals")
def batch_estimate(body: BatchEstimateBody, state: Admin) -> FastJSONResponse:
    results: list[dict[str, Any]] = []
    totals: dict[str, ModelTotal] = {}
    for index, item in enumerate(body.requests):
        try:
            estimates = _estimate(state, item, body.alternatives, f"requests.{index}")
        except ThriftyError as exc:
            if not isinstance(exc, InvalidInput):
                raise
            results.append({"index": index, "id": item.id, "error": exc.message})
            continue
        accumulate(totals, estimates)
        results.append(
            {
                "index": index,
                "id": item.id,
                "estimates": [estimate_json(e) for e in estimates],
                "recommendation": cheapest_fit(estimates),
            }
        )
    return FastJSONResponse(
        {
            "results": results,
            "totals": {
                model: {
                    "requests": t.requests,
                    "estimatedTokens": t.tokens,
                    "estimatedCost": money(t.cost),
                }
                for model, t in totals.items()
            },
            "pricedAt": state.now().isoformat(),
        }
    )
