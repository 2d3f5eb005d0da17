"""Model selection (DESIGN step 5): candidates, restrictions and a strategy → a :class:`Decision`.

Pure: every fact about a candidate (its expected and worst-case cost for this request, its
expected quality, observed latency and errors, whether it can serve the request at all) is
computed by the caller and passed in as a :class:`Candidate`.

1. **Eligibility.** A candidate is out, with its reason, when it cannot serve the request
   (``unfit``: capabilities, context, key, circuit), a budget blocks it, its expected cost is
   over the rule's cost limit, its worst case is over the budget's per-request cap or needs an
   approval nobody gave, or, when a budget enforces cheaper models (85% by default), it costs
   more than the reference (the requested model; for automatic selection the median cost).
2. **Scores.** Every eligible candidate gets the composite
   ``budget·budgetScore + quality·qualityScore + task·taskScore + history·historyScore``,
   each score in 0..1 (cheapness on a log scale, general quality, quality on this task type,
   availability times speed); the factors shift towards cost as budgets fill (:data:`FACTORS`).
3. **Strategy.** ``cost-aware`` (default): the cheapest candidate whose quality reaches the
   requirement (a share of the best eligible quality, relaxed as budgets fill); ``cheapest``;
   ``fastest``; ``quality-first``; ``balanced`` (highest composite score).
4. **Fallbacks.** The rest of the eligible candidates in the strategy's order, the winner's
   configured fallbacks first.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, NamedTuple

from thrifty.budgets.money import format_nano, format_usd, hold_nano
from thrifty.budgets.policy import NO_RESTRICTIONS, Downgrading, Restrictions
from thrifty.routing.strategy import Strategy

#: How far the quality requirement relaxes as budgets fill (subtracted from the share).
RELAX = {Downgrading.NONE: 0.0, Downgrading.PREFER: 0.02, Downgrading.ENFORCE: 0.05}
MAX_FALLBACKS = 3


@dataclass(frozen=True, slots=True)
class Factors:
    budget: float
    quality: float
    task: float
    history: float

    def json(self) -> dict[str, float]:
        return {
            "budgetFactor": self.budget,
            "qualityFactor": self.quality,
            "taskFactor": self.task,
            "historyFactor": self.history,
        }


#: The composite score's factors at each downgrading level of the request's budgets.
FACTORS = {
    Downgrading.NONE: Factors(budget=0.25, quality=0.30, task=0.30, history=0.15),
    Downgrading.PREFER: Factors(budget=0.45, quality=0.20, task=0.25, history=0.10),
    Downgrading.ENFORCE: Factors(budget=0.65, quality=0.10, task=0.20, history=0.05),
}


class Candidate(NamedTuple):
    """What selection knows of one model for one request (a tuple: hundreds are made per
    request, and a tuple is made several times faster than a frozen dataclass)."""

    model: str
    estimated_cost: Decimal
    worst_case_cost: Decimal
    quality: float  # expected quality on this request (task type, feedback, learned router)
    general_quality: float | None = None  # the model's default quality; None: ``quality``
    latency_ms: float | None = None  # observed p50
    error_rate: float = 0.0
    unfit: str | None = None  # why it cannot serve the request; None when it can


class Scores(NamedTuple):
    budget: float
    quality: float
    task: float
    history: float
    total: float

    def json(self) -> dict[str, float]:
        return {
            "budgetScore": round(self.budget, 4),
            "qualityScore": round(self.quality, 4),
            "taskScore": round(self.task, 4),
            "historyScore": round(self.history, 4),
            "total": round(self.total, 4),
        }


class Alternative(NamedTuple):
    """A candidate that did not win, and why."""

    model: str
    reason: str
    eligible: bool
    estimated_cost: Decimal
    cost_difference: Decimal | None  # its expected cost minus the winner's
    quality: float
    quality_difference: float | None  # its quality minus the winner's
    scores: Scores | None  # None when it was out before scoring

    def json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "reason": self.reason,
            "eligible": self.eligible,
            "estimatedCost": format_usd(self.estimated_cost),
            "costDifference": _usd_or_none(self.cost_difference),
            "quality": round(self.quality, 4),
            "qualityDifference": _round_or_none(self.quality_difference),
            "scores": self.scores.json() if self.scores else None,
        }


@dataclass(frozen=True)
class Decision:
    """The outcome of one selection: the model (None when no candidate is eligible), its
    fallbacks, and every other candidate with the reason it lost."""

    model: str | None
    fallbacks: tuple[str, ...]
    strategy: Strategy
    quality_requirement: float
    required_quality: float | None
    estimated_cost: Decimal | None
    worst_case_cost: Decimal | None
    quality: float | None
    reason: str
    factors: Factors
    downgrading: Downgrading
    restrictions: tuple[str, ...] = ()
    #: Builds (the winner's scores, the alternatives) when first asked for: most of a
    #: decision's time would otherwise go to explaining it before the call is even made.
    explain: Callable[[], tuple[Scores | None, tuple[Alternative, ...]]] = field(
        default=lambda: (None, ()), repr=False, compare=False
    )

    @cached_property
    def _explained(self) -> tuple[Scores | None, tuple[Alternative, ...]]:
        return self.explain()

    @property
    def scores(self) -> Scores | None:
        """The winner's composite score and its parts (None when nothing won)."""
        return self._explained[0]

    @property
    def alternatives(self) -> tuple[Alternative, ...]:
        """Every candidate that did not win, with the reason."""
        return self._explained[1]

    def json(self) -> dict[str, Any]:
        return {
            "selectedModel": self.model,
            "fallbacks": list(self.fallbacks),
            "strategy": self.strategy.value,
            "reason": self.reason,
            "qualityRequirement": self.quality_requirement,
            "requiredQuality": _round_or_none(self.required_quality),
            "estimatedCost": _usd_or_none(self.estimated_cost),
            "worstCaseCost": _usd_or_none(self.worst_case_cost),
            "quality": _round_or_none(self.quality),
            "scores": self.scores.json() if self.scores else None,
            "factors": self.factors.json(),
            "modelDowngrading": self.downgrading.value,
            "restrictions": list(self.restrictions),
            "alternatives": _alternatives_json(self.alternatives),
        }


def _alternatives_json(alternatives: Sequence[Alternative]) -> list[dict[str, Any]]:
    """``[a.json() for a in alternatives]``, inlined: a decision explains up to hundreds."""
    usd = format_usd
    found = []
    for model, reason, eligible, cost, difference, quality, quality_diff, s in alternatives:
        found.append(
            {
                "model": model,
                "reason": reason,
                "eligible": eligible,
                "estimatedCost": usd(cost),
                "costDifference": None if difference is None else usd(difference),
                "quality": round(quality, 4),
                "qualityDifference": None if quality_diff is None else round(quality_diff, 4),
                "scores": None
                if s is None
                else {
                    "budgetScore": round(s[0], 4),
                    "qualityScore": round(s[1], 4),
                    "taskScore": round(s[2], 4),
                    "historyScore": round(s[3], 4),
                    "total": round(s[4], 4),
                },
            }
        )
    return found


def _usd_or_none(value: Decimal | None) -> str | None:
    return None if value is None else format_usd(value)


def _round_or_none(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _general(candidate: Candidate) -> float:
    return candidate.quality if candidate.general_quality is None else candidate.general_quality


def _exclusion(
    candidate: Candidate,
    restrictions: Restrictions,
    cost_limit: Decimal | None,
    ceiling: Decimal | None,
) -> str | None:
    """Why ``candidate`` may not be chosen, or None."""
    if candidate.unfit is not None:
        return candidate.unfit
    if candidate.model in restrictions.blocked_models:
        return "blocked by a budget"
    if cost_limit is not None and candidate.estimated_cost > cost_limit:
        return f"over cost limit {format_usd(cost_limit)} USD"
    cap = restrictions.max_cost_per_request_nano
    approval = restrictions.require_approval_above_nano
    if cap is not None or approval is not None:
        worst = hold_nano(candidate.worst_case_cost)
        if cap is not None and worst > cap:
            return f"worst case over the per-request cap of {format_nano(cap)} USD"
        if approval is not None and worst > approval:
            return f"needs approval above {format_nano(approval)} USD"
    if ceiling is not None and candidate.estimated_cost > ceiling:
        at = restrictions.downgrade_percent
        return f"restricted at {at}%" if at is not None else "restricted by a budget"
    return None


def _ceiling(
    fit: Sequence[Candidate], downgrading: Downgrading, reference: Candidate | None
) -> Decimal | None:
    """The most a candidate may cost when budgets enforce cheaper models."""
    if downgrading is not Downgrading.ENFORCE or not fit:
        return None
    if reference is not None:
        return reference.estimated_cost
    return Decimal(statistics.median_low([c.estimated_cost for c in fit]))


_TINY = 1e-12


def _score(eligible: Sequence[Candidate], factors: Factors) -> dict[str, Scores]:
    # Scores are unitless ranks, not money: the log of a cost is taken in floating point.
    logs = [math.log(max(float(c.estimated_cost), _TINY)) for c in eligible]
    low, high = min(logs), max(logs)
    span = high - low
    generals = [c.quality if c.general_quality is None else c.general_quality for c in eligible]
    best_general = max(generals) or 1.0
    best_task = max(c.quality for c in eligible) or 1.0
    latencies = [c.latency_ms for c in eligible if c.latency_ms]
    fastest = min(latencies) if latencies else None
    f_budget, f_quality, f_task, f_history = (
        factors.budget, factors.quality, factors.task, factors.history
    )  # fmt: skip
    scores: dict[str, Scores] = {}
    for candidate, log_cost, general in zip(eligible, logs, generals, strict=True):
        budget = (high - log_cost) / span if span else 1.0
        latency = candidate.latency_ms
        speed = fastest / latency if fastest is not None and latency else 0.5
        error = candidate.error_rate
        history = (1.0 - (0.0 if error < 0 else 1.0 if error > 1 else error)) * speed
        quality = general / best_general
        task = candidate.quality / best_task
        total = f_budget * budget + f_quality * quality + f_task * task + f_history * history
        scores[candidate.model] = Scores(budget, quality, task, history, total)
    return scores


def _order(
    strategy: Strategy, eligible: Sequence[Candidate], scores: dict[str, Scores], floor: float
) -> list[Candidate]:
    """Eligible candidates best first under ``strategy``."""
    keys: dict[Strategy, Callable[[Candidate], Any]] = {
        Strategy.CHEAPEST: lambda c: (c.estimated_cost, -c.quality, c.model),
        Strategy.FASTEST: lambda c: (
            c.latency_ms if c.latency_ms else math.inf,
            c.estimated_cost,
            c.model,
        ),
        Strategy.QUALITY_FIRST: lambda c: (-c.quality, c.estimated_cost, c.model),
        Strategy.BALANCED: lambda c: (-scores[c.model].total, c.estimated_cost, c.model),
        Strategy.COST_AWARE: lambda c: (
            c.quality < floor,
            c.estimated_cost if c.quality >= floor else -c.quality,
            c.model,
        ),
    }
    return sorted(eligible, key=keys[strategy])


def _why_won(strategy: Strategy, winner: Candidate, floor: float, requirement: float) -> str:
    if strategy is Strategy.COST_AWARE:
        return (
            f"cheapest model meeting the quality requirement ({winner.quality:.3f} ≥ "
            f"{floor:.3f}, {requirement:.0%} of the best eligible)"
        )
    return {
        Strategy.CHEAPEST: "lowest expected cost",
        Strategy.FASTEST: "lowest observed latency",
        Strategy.QUALITY_FIRST: "highest expected quality for this task",
        Strategy.BALANCED: "highest composite score",
    }[strategy]


def _why_lost(strategy: Strategy, loser: Candidate, winner: Candidate, floor: float) -> str:
    if strategy is Strategy.COST_AWARE and loser.quality < floor:
        return f"quality below requirement ({loser.quality:.3f} < {floor:.3f})"
    if strategy in (Strategy.COST_AWARE, Strategy.CHEAPEST):
        return f"costs more than {winner.model}"
    if strategy is Strategy.FASTEST:
        return f"slower than {winner.model}"
    if strategy is Strategy.QUALITY_FIRST:
        return f"lower quality than {winner.model}"
    return f"lower composite score than {winner.model}"


def select_model(
    candidates: Sequence[Candidate],
    *,
    strategy: Strategy = Strategy.COST_AWARE,
    quality_requirement: float = 0.95,
    cost_limit: Decimal | None = None,
    restrictions: Restrictions = NO_RESTRICTIONS,
    reference: str | None = None,
    configured_fallbacks: Mapping[str, Sequence[str]] | None = None,
    fallback_chain: bool = True,
    max_fallbacks: int = MAX_FALLBACKS,
) -> Decision:
    """Choose among ``candidates`` (see the module docstring).

    ``reference`` is the model the client asked for, when it named one: its quality is the
    bar for cost-aware selection and, when budgets enforce cheaper models, its cost the ceiling.
    ``configured_fallbacks`` (model → its configured fallbacks) puts the winner's own
    fallbacks, when eligible, first in the chain.
    """
    downgrading = restrictions.model_downgrading
    factors = FACTORS[downgrading]
    if (
        cost_limit is None
        and not restrictions.blocked_models
        and restrictions.max_cost_per_request_nano is None
        and restrictions.require_approval_above_nano is None
    ):
        reasons = {c.model: c.unfit for c in candidates}  # only unfitness can exclude
    else:
        reasons = {c.model: _exclusion(c, restrictions, cost_limit, None) for c in candidates}
    ref = next((c for c in candidates if c.model == reference), None)
    ceiling = _ceiling([c for c in candidates if reasons[c.model] is None], downgrading, ref)
    if ceiling is not None:
        reasons = {c.model: _exclusion(c, restrictions, cost_limit, ceiling) for c in candidates}
    eligible = [c for c in candidates if reasons[c.model] is None]
    share = max(0.0, quality_requirement - RELAX[downgrading])
    if not eligible:
        unserved = tuple(
            Alternative(c.model, reasons[c.model] or "", False, c.estimated_cost, None, c.quality,
                        None, None)
            for c in candidates
        )  # fmt: skip
        return Decision(
            None, (), strategy, quality_requirement, None, None, None, None,
            "no candidate can serve this request", factors, downgrading, restrictions.reasons,
            lambda: (None, unserved),
        )  # fmt: skip
    scores = _score(eligible, factors) if strategy is Strategy.BALANCED else None
    bar = ref.quality if ref is not None and ref in eligible else max(c.quality for c in eligible)
    floor = share * bar
    ordered = _order(strategy, eligible, scores or {}, floor)
    winner = ordered[0]
    fallbacks: list[str] = []
    if fallback_chain:
        names = {c.model for c in ordered[1:]}
        preferred = (configured_fallbacks or {}).get(winner.model, ())
        fallbacks = [m for m in preferred if m in names]
        fallbacks += [c.model for c in ordered[1:] if c.model not in fallbacks]

    def explain() -> tuple[Scores | None, tuple[Alternative, ...]]:
        scored = scores or _score(eligible, factors)
        losers = [*ordered[1:], *(c for c in candidates if reasons[c.model] is not None)]
        alternatives = tuple(
            Alternative(
                c.model,
                reasons[c.model] or _why_lost(strategy, c, winner, floor),
                reasons[c.model] is None,
                c.estimated_cost,
                c.estimated_cost - winner.estimated_cost,
                c.quality,
                c.quality - winner.quality,
                scored.get(c.model),
            )
            for c in losers
        )
        return scored[winner.model], alternatives

    return Decision(
        model=winner.model,
        fallbacks=tuple(fallbacks[:max_fallbacks]),
        strategy=strategy,
        quality_requirement=quality_requirement,
        required_quality=floor if strategy is Strategy.COST_AWARE else None,
        estimated_cost=winner.estimated_cost,
        worst_case_cost=winner.worst_case_cost,
        quality=winner.quality,
        reason=_why_won(strategy, winner, floor, share),
        factors=factors,
        downgrading=downgrading,
        restrictions=restrictions.reasons,
        explain=explain,
    )
