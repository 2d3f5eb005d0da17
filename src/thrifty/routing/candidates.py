"""The facts selection needs about each candidate model for one request (pure).

For every model: expected and worst-case cost of this request at the price in force (input
counted with the model's own tokenizer, output predicted by ``pricing.output``), expected quality
on the request's task type (the learned router's prediction when one is loaded and knows the
model, else the profile's quality updated by feedback), observed latency and error rate, and
whether it can serve the request at all.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from thrifty.pricing.catalog import costs_of
from thrifty.pricing.estimate import PricedRequest, count_input
from thrifty.pricing.output import OutputPrediction, predict_output_tokens
from thrifty.pricing.tokens import TokenCount, encoding_for_model
from thrifty.routing.analysis import RequestProfile
from thrifty.routing.estimates import tokenizer_model
from thrifty.routing.feedback import EMPTY_BOOK, QualityBook
from thrifty.routing.needs import unfit_reason
from thrifty.routing.registry import ModelRegistry
from thrifty.routing.selection import Candidate


@dataclass(frozen=True, slots=True)
class Observed:
    """What real traffic says of one model: p50 latency, error rate, whether it is in rotation."""

    latency_ms: float | None = None
    error_rate: float = 0.0
    in_rotation: bool = True


def build_candidates(
    profile: RequestProfile,
    request: PricedRequest,
    registry: ModelRegistry,
    model_ids: Iterable[str],
    now: datetime,
    *,
    allowed: Callable[[str], bool] = lambda _model: True,
    observed: Mapping[str, Observed] | None = None,
    book: QualityBook = EMPTY_BOOK,
    learned: Mapping[str, float] | None = None,
    rng: random.Random | None = None,
) -> list[Candidate]:
    """One :class:`Candidate` per registered model of ``model_ids`` (unknown ids skipped)."""
    counts: dict[str, TokenCount] = {}
    predictions: dict[int | None, OutputPrediction] = {}
    observed = observed or {}
    task = profile.task_type.value
    candidates: list[Candidate] = []
    for model_id in dict.fromkeys(model_ids):
        model = registry.profiles.get(model_id)
        if model is None:
            continue
        name = tokenizer_model(model)
        encoding = encoding_for_model(name)
        tokens = counts.get(encoding)
        if tokens is None:
            tokens = counts[encoding] = count_input(request, name)
        limit = model.max_output_tokens
        prediction = predictions.get(limit)
        if prediction is None:
            prediction = predictions[limit] = predict_output_tokens(
                request.messages, max_tokens=request.max_tokens, task_type=task,
                model_max_output=limit,
            )  # fmt: skip
        price = registry.price_of(model_id, now).price
        seen = observed.get(model_id, Observed())
        unfit = unfit_reason(model, profile.needs, tokens.tokens, request.max_tokens)
        if unfit is None and not allowed(model_id):
            unfit = "not allowed for this key"
        if unfit is None and not seen.in_rotation:
            unfit = "upstream out of rotation (circuit open)"
        prior = model.quality_for(task)
        if learned is not None and model_id in learned:
            quality = learned[model_id]
        else:
            quality = book.quality(model_id, task, prior, rng)
        expected, worst = costs_of(price, tokens.tokens, (prediction.tokens, prediction.worst_case))
        candidates.append(
            Candidate(
                model=model_id,
                estimated_cost=expected,
                worst_case_cost=worst,
                quality=quality,
                general_quality=book.expected(model_id, "default", model.quality_for("default")),
                latency_ms=seen.latency_ms,
                error_rate=seen.error_rate,
                unfit=unfit,
            )
        )
    return candidates
