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
from typing import NamedTuple

from thrifty.pricing.catalog import cost_pair
from thrifty.pricing.estimate import PricedRequest, count_input
from thrifty.pricing.output import OutputPrediction, output_predictor
from thrifty.pricing.tokens import TokenCount, encoding_for_model
from thrifty.routing.analysis import RequestProfile
from thrifty.routing.estimates import tokenizer_model
from thrifty.routing.feedback import EMPTY_BOOK, QualityBook
from thrifty.routing.models import ModelProfile
from thrifty.routing.needs import unfit_reason
from thrifty.routing.registry import ModelRegistry
from thrifty.routing.selection import Candidate


@dataclass(frozen=True, slots=True)
class Observed:
    """What real traffic says of one model: p50 latency, error rate, whether it is in rotation."""

    latency_ms: float | None = None
    error_rate: float = 0.0
    in_rotation: bool = True


class _Row(NamedTuple):
    """What one model contributes to every request, computed once per registry snapshot."""

    profile: ModelProfile
    tokenizer: str  # the model name its tokenizer is chosen by
    encoding: str  # that tokenizer's label
    general: float  # its default quality


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
    needs = profile.needs
    max_tokens = request.max_tokens
    rows = registry.derived("candidate rows", _rows)
    learned = learned or {}
    feedback = bool(book.observations)
    unseen = Observed()
    price_of = registry.price_of
    predict = output_predictor(request.messages, max_tokens=max_tokens, task_type=task)
    candidates: list[Candidate] = []
    for model_id in dict.fromkeys(model_ids):
        row = rows.get(model_id)
        if row is None:
            continue
        model = row.profile
        tokens = counts.get(row.encoding)
        if tokens is None:
            tokens = counts[row.encoding] = count_input(request, row.tokenizer)
        limit = model.max_output_tokens
        prediction = predictions.get(limit)
        if prediction is None:
            prediction = predictions[limit] = predict(limit)
        seen = observed.get(model_id, unseen)
        unfit = unfit_reason(model, needs, tokens.tokens, max_tokens)
        if unfit is None and not allowed(model_id):
            unfit = "not allowed for this key"
        if unfit is None and not seen.in_rotation:
            unfit = "upstream out of rotation (circuit open)"
        general = row.general
        quality = model.quality.get(task, general)
        if model_id in learned:
            quality = learned[model_id]
        elif feedback:
            quality = book.quality(model_id, task, quality, rng)
        if feedback:
            general = book.expected(model_id, "default", general)
        expected, worst = cost_pair(
            price_of(model_id, now).price, tokens.tokens, prediction.tokens, prediction.worst_case
        )
        candidates.append(
            Candidate(
                model_id, expected, worst, quality, general, seen.latency_ms, seen.error_rate,
                unfit,
            )
        )  # fmt: skip
    return candidates


def _rows(registry: ModelRegistry) -> dict[str, _Row]:
    found = {}
    for model in registry:
        name = tokenizer_model(model)
        found[model.id] = _Row(model, name, encoding_for_model(name), model.quality_for("default"))
    return found
