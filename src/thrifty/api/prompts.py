"""Prompt analysis: ``POST /api/v1/prompts/analyze`` (any valid API key, or the admin key).

The body is ``{"request": <chat request>, "model": <model to count and price on>?}``; the model
defaults to ``request.model`` and must be registered (and allowed for the caller's key). An
Anthropic-shaped request may carry its ``system`` at the top of ``request``. The analysis itself
is :func:`thrifty.analytics.prompts.analyze_prompt`; nothing is stored and no model is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from thrifty.analytics.prompts import CACHE_MIN_TOKENS, PromptAnalysis, Rewrite, analyze_prompt
from thrifty.api.auth import CallerDep
from thrifty.api.responses import FastJSONResponse, money
from thrifty.api.schemas import ChatRequestBody
from thrifty.budgets.principal import Principal
from thrifty.errors import InvalidInput, PermissionDenied
from thrifty.routing.estimates import tokenizer_model
from thrifty.routing.registry import ModelRegistry

router = APIRouter(prefix="/api/v1", tags=["prompts"])


class AnalyzeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    request: ChatRequestBody
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None


def analyze(
    body: AnalyzeBody,
    registry: ModelRegistry,
    at: datetime,
    principal: Principal | None = None,
) -> dict[str, Any]:
    """The analysis of ``body`` as JSON, priced at ``at``, for ``principal`` (None: anyone)."""
    model_id = body.model or body.request.model
    field = "model" if body.model else "request.model"
    profile = registry.get(model_id, field=field)
    if principal is not None and not principal.may_use(model_id):
        raise PermissionDenied(f"this key may not use model {model_id!r}", field=field)
    resolved = registry.price_of(model_id, at)
    priced = body.request.priced()
    analysis = analyze_prompt(
        priced.messages,
        tokenizer_model(profile),
        resolved.price,
        system=_system(body.request, "request.system"),
        tools=priced.tools,
    )
    return {
        "model": model_id,
        "priceSource": resolved.source.value,
        **analysis_json(analysis),
        "pricedAt": at.isoformat(),
    }


def _system(request: ChatRequestBody, field: str) -> str | Sequence[Mapping[str, Any]] | None:
    system = (request.model_extra or {}).get("system")
    if system is None or isinstance(system, str):
        return system
    if isinstance(system, list) and all(isinstance(block, dict) for block in system):
        return system
    raise InvalidInput(f"{field}: give a string or a list of content blocks", field=field)


def analysis_json(analysis: PromptAnalysis) -> dict[str, Any]:
    total = analysis.total_tokens
    prefix = analysis.cacheable_prefix
    return {
        "encoding": analysis.encoding,
        "exactTokens": analysis.exact,
        "totalTokens": total,
        "costPerCall": money(analysis.cost_per_call),
        "parts": [
            {"part": part, "tokens": tokens, "share": round(tokens / total, 4) if total else 0.0}
            for part, tokens in analysis.parts.items()
        ],
        "findings": [
            {
                "kind": f.kind,
                "message": f.message,
                "tokens": f.tokens,
                "excerpt": f.excerpt,
                "location": f.location,
            }
            for f in analysis.findings
        ],
        "rewrites": [rewrite_json(r) for r in analysis.rewrites],
        "combinedRewrite": rewrite_json(analysis.combined) if analysis.combined else None,
        "efficiencyScore": analysis.efficiency_score,
        "cacheablePrefix": {
            "tokens": prefix.tokens,
            "minimumTokens": CACHE_MIN_TOKENS,
            "eligible": prefix.eligible,
            "costSavedPerCall": money(prefix.cost_saved_per_call),
        },
        "llmRewrite": None,
    }


def rewrite_json(rewrite: Rewrite) -> dict[str, Any]:
    return {
        "kind": rewrite.kind,
        "description": rewrite.description,
        "safe": rewrite.safe,
        "tokensSaved": rewrite.tokens_saved,
        "tokensAfter": rewrite.tokens_after,
        "costSavedPerCall": money(rewrite.cost_saved_per_call),
        "changed": list(rewrite.changed),
        "text": rewrite.text,
        "messages": rewrite.messages,
        "system": rewrite.system,
    }


@router.post("/prompts/analyze", summary="Find wasted tokens in a prompt and rewrites that save")
def analyze_endpoint(body: AnalyzeBody, caller: CallerDep) -> FastJSONResponse:
    state = caller.state
    principal = None if caller.principal.is_admin else caller.principal
    return FastJSONResponse(analyze(body, state.registry.get(), state.now(), principal))
