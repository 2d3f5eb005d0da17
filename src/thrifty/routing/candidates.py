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
    tokenizers = registry.derived("tokenizers", _tokenizers)
    learned = learned or {}
    feedback = bool(book.observations)
    unseen = Observed()
    candidates: list[Candidate] = []
    for model_id in dict.fromkeys(model_ids):
        model = registry.profiles.get(model_id)
        if model is None:
            continue
        name, encoding = tokenizers[model_id]
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
        seen = observed.get(model_id, unseen)
        unfit = unfit_reason(model, profile.needs, tokens.tokens, request.max_tokens)
        if unfit is None and not allowed(model_id):
            unfit = "not allowed for this key"
        if unfit is None and not seen.in_rotation:
            unfit = "upstream out of rotation (circuit open)"
        prior = model.quality_for(task)
        general = model.quality_for("default")
        if model_id in learned:
            quality = learned[model_id]
        elif feedback:
            quality = book.quality(model_id, task, prior, rng)
        else:
            quality = prior
        if feedback:
            general = book.expected(model_id, "default", general)
        expected, worst = costs_of(price, tokens.tokens, (prediction.tokens, prediction.worst_case))
        candidates.append(
            Candidate(
                model_id, expected, worst, quality, general, seen.latency_ms, seen.error_rate,
                unfit,
            )
        )  # fmt: skip
    return candidates


def _tokenizers(registry: ModelRegistry) -> dict[str, tuple[str, str]]:
    """Model id → (the model name its tokenizer is chosen by, that tokenizer's label)."""
    found = {}
    for model in registry:
        name = tokenizer_model(model)
        found[model.id] = (name, encoding_for_model(name))
    return found
