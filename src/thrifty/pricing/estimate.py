"""Cost estimates before a call: tokens counted, output predicted, priced exactly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from genai_prices.types import ModelPrice

from thrifty.pricing.catalog import TokenUsage, cost_of
from thrifty.pricing.output import predict_output_tokens
from thrifty.pricing.tokens import TokenCount, count_chat


@dataclass(frozen=True, slots=True)
class PricedRequest:
    """The parts of a chat request that decide its price."""

    messages: Sequence[Mapping[str, Any]]
    max_tokens: int | None = None
    tools: Sequence[Mapping[str, Any]] | None = None
    system: str | Sequence[Mapping[str, Any]] | None = None
    task_type: str | None = None


@dataclass(frozen=True, slots=True)
class Estimate:
    input_tokens: int
    output_tokens: int
    worst_case_output_tokens: int
    cost: Decimal
    worst_case_cost: Decimal
    exact_input: bool
    output_source: str

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def count_input(request: PricedRequest, tokenizer_model: str) -> TokenCount:
    return count_chat(request.messages, tokenizer_model, tools=request.tools, system=request.system)


def estimate_cost(
    request: PricedRequest,
    price: ModelPrice,
    tokens: TokenCount,
    *,
    max_output_tokens: int | None = None,
) -> Estimate:
    """Expected and worst-case cost of ``request`` at ``price`` with ``tokens`` of input."""
    prediction = predict_output_tokens(
        request.messages,
        max_tokens=request.max_tokens,
        task_type=request.task_type,
        model_max_output=max_output_tokens,
    )
    expected = cost_of(price, TokenUsage(tokens.tokens, prediction.tokens))
    worst = cost_of(price, TokenUsage(tokens.tokens, prediction.worst_case))
    return Estimate(
        input_tokens=tokens.tokens,
        output_tokens=prediction.tokens,
        worst_case_output_tokens=prediction.worst_case,
        cost=expected,
        worst_case_cost=worst,
        exact_input=tokens.exact,
        output_source=prediction.source,
    )
