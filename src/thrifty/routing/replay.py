"""Replaying a dataset through the real selection code, and scoring the choices.

A *policy* turns one prompt into ``select_model`` candidates and a quality requirement. Every
prompt is routed by :func:`thrifty.routing.selection.select_model`; only then are the recorded
outcomes read, to score. Models with no recorded answer for a prompt are passed as unfit
(``no recorded answer``), so every choice can be scored.

- :class:`RouterPolicy`: the learned router, from the prompt's messages alone. Its *setting* is
  the cost weight λ (``--min-quality`` picks the one calibrated at training time).
- :class:`MeanQualityPolicy`: every model's mean quality and cost in a dataset, overall or per
  task (``by_task``): baselines that *know* those means. Its setting is the quality requirement.

Scores: totals are summed as ``Decimal`` from the dataset's costs; the *strongest model* is
the one of highest mean quality (on the router's training data when there is a router; where
it has no recorded answer, the next strongest that has one), the *oracle* the cheapest of the
best models per prompt. ``cost_share`` and ``quality_share`` are
relative to the strongest model on the same prompts.

The **curve** is the policy at each setting of a grid; its **area** is the integral over cost
shares 0..1 of the best quality share reachable at no more than that cost share (0 below the
cheapest point), a step function: 1.0 means the strongest model's quality at no cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from thrifty.routing.dataset import Dataset, Example
from thrifty.routing.learned import LearnedRouter, requirement_for
from thrifty.routing.selection import Candidate, select_model
from thrifty.routing.strategy import Strategy

NO_ANSWER = "no recorded answer in the dataset"
#: Settings swept for the curve (router: cost weights; baselines: quality requirements).
ROUTER_CURVE = (0.0, *(round(0.01 * 100 ** (k / 23), 5) for k in range(24)), 10.0)
BASELINE_CURVE = (1.0, 0.99, 0.97, 0.95, 0.93, 0.9, 0.85, 0.8, 0.7, 0.5, 0.01)


class Policy(Protocol):
    @property
    def name(self) -> str: ...

    def setting_for(self, min_quality: float) -> float: ...

    def decide(self, example: Example, strategy: Strategy, setting: float) -> str | None: ...


def _unfit(example: Example, model: str) -> str | None:
    return None if model in example.outcomes else NO_ANSWER


@dataclass(frozen=True, eq=False)
class RouterPolicy:
    """The learned router; its predictions per prompt id are kept for other settings."""

    router: LearnedRouter
    name: str = "learned router"
    _predictions: dict[str, tuple[dict[str, float], dict[str, Decimal]]] = field(
        default_factory=dict, init=False, repr=False
    )

    def setting_for(self, min_quality: float) -> float:
        return self.router.operating_point(min_quality).cost_weight

    def decide(self, example: Example, strategy: Strategy, setting: float) -> str | None:
        if example.id not in self._predictions:
            self._predictions[example.id] = (
                self.router.predict(example.messages),
                self.router.predict_costs(example.messages),
            )
        probabilities, costs = self._predictions[example.id]
        fit = {m: p for m, p in probabilities.items() if _unfit(example, m) is None}
        if not fit:
            return None
        requirement = requirement_for(fit, costs, setting / self.router.reference_cost)
        candidates = [
            Candidate(m, costs[m], costs[m], probabilities[m], unfit=_unfit(example, m))
            for m in self.router.models
        ]
        return select_model(
            candidates, strategy=strategy, quality_requirement=requirement, fallback_chain=False
        ).model


@dataclass(frozen=True, eq=False)
class MeanQualityPolicy:
    """Per-model (per task when ``by_task``) mean quality and mean cost of a dataset."""

    quality: dict[str | None, dict[str, float]]
    cost: dict[str | None, dict[str, Decimal]]
    by_task: bool
    name: str
    absolute: bool = False  # setting s means "within 1 − s points of the best", not a share

    @classmethod
    def of(
        cls, dataset: Dataset, *, by_task: bool, name: str, absolute: bool = False
    ) -> MeanQualityPolicy:
        groups: dict[str | None, list[Example]] = {}
        for example in dataset.examples:
            groups.setdefault(example.task if by_task else None, []).append(example)
        quality: dict[str | None, dict[str, float]] = {}
        cost: dict[str | None, dict[str, Decimal]] = {}
        for key, examples in groups.items():
            part = Dataset(tuple(examples), dataset.models)
            quality[key] = part.mean_quality()
            answered = {
                m: [e.outcomes[m].cost for e in examples if m in e.outcomes] for m in dataset.models
            }
            cost[key] = {
                m: sum(c, Decimal(0)) / len(c) if c else Decimal(0) for m, c in answered.items()
            }
        return cls(quality, cost, by_task, name, absolute)

    def setting_for(self, min_quality: float) -> float:
        return min_quality

    def decide(self, example: Example, strategy: Strategy, setting: float) -> str | None:
        key = example.task if self.by_task else None
        quality = self.quality.get(key) or self.quality[next(iter(self.quality))]
        cost = self.cost.get(key) or self.cost[next(iter(self.cost))]
        candidates = [
            Candidate(m, cost[m], cost[m], quality[m], unfit=_unfit(example, m)) for m in quality
        ]
        best = max(quality.values())
        share = max(1e-9, 1 - (1 - setting) / best) if self.absolute and best else setting
        return select_model(
            candidates, strategy=strategy, quality_requirement=share, fallback_chain=False
        ).model


@dataclass(frozen=True, slots=True)
class Score:
    """Totals of one set of choices, and their shares of the strongest model's."""

    total_cost: Decimal
    mean_quality: float
    cost_share: float
    quality_share: float

    def json(self) -> dict[str, Any]:
        return {
            "totalCost": str(self.total_cost),
            "meanQuality": round(self.mean_quality, 6),
            "costShare": round(self.cost_share, 6),
            "qualityShare": round(self.quality_share, 6),
            "costSaved": round(1 - self.cost_share, 6),
        }


def _totals(dataset: Dataset, choices: Sequence[str | None]) -> tuple[Decimal, float]:
    cost, quality = Decimal(0), 0.0
    for example, model in zip(dataset.examples, choices, strict=True):
        outcome = example.outcomes.get(model) if model is not None else None
        if outcome is not None:
            cost += outcome.cost
            quality += outcome.quality
    return cost, quality


def strongest_choices(dataset: Dataset, ranking: Sequence[str]) -> list[str | None]:
    """Per prompt, the first model of ``ranking`` (strongest first) that has an answer."""
    return [next((m for m in ranking if m in e.outcomes), None) for e in dataset.examples]


def score(
    dataset: Dataset, choices: Sequence[str | None], reference: Sequence[str | None]
) -> Score:
    """Score ``choices`` (one model a prompt; None: quality 0, cost 0) against the
    ``reference`` choices (the strongest model's, see :func:`strongest_choices`)."""
    cost, quality = _totals(dataset, choices)
    strong_cost, strong_quality = _totals(dataset, reference)
    return Score(
        cost,
        quality / len(dataset),
        float(cost / strong_cost) if strong_cost else 0.0,
        quality / strong_quality if strong_quality else 0.0,
    )


def oracle_choices(dataset: Dataset) -> list[str]:
    """Per prompt, the cheapest of the models with the best recorded quality."""
    return [_best_cheapest(example) for example in dataset.examples]


def _best_cheapest(example: Example) -> str:
    ranked = sorted(example.outcomes.items(), key=lambda kv: (-kv[1].quality, kv[1].cost, kv[0]))
    return ranked[0][0]


def choose(
    dataset: Dataset, policy: Policy, strategy: Strategy, setting: float
) -> list[str | None]:
    """Route every prompt (messages only for the router) through ``select_model``."""
    return [policy.decide(example, strategy, setting) for example in dataset.examples]


@dataclass(frozen=True, slots=True)
class CurvePoint:
    setting: float
    score: Score

    def json(self) -> dict[str, Any]:
        return {"setting": self.setting, **self.score.json()}


def curve(
    dataset: Dataset, policy: Policy, settings: Sequence[float], reference: Sequence[str | None]
) -> list[CurvePoint]:
    """The cost-aware policy's score at each setting."""
    return [
        CurvePoint(s, score(dataset, choose(dataset, policy, Strategy.COST_AWARE, s), reference))
        for s in settings
    ]


def area_under_curve(points: Sequence[tuple[float, float]]) -> float:
    """Area under the best-quality-within-cost step function, over cost shares 0..1."""
    area, best, previous = 0.0, 0.0, 0.0
    for cost, quality in sorted(p for p in points if p[0] <= 1.0):
        area += best * (cost - previous)
        best, previous = max(best, quality), cost
    return area + best * (1.0 - previous)


def replay(
    dataset: Dataset,
    policy: Policy,
    *,
    ranking: Sequence[str],
    strategies: Sequence[Strategy] = (Strategy.COST_AWARE,),
    min_qualities: Sequence[float] = (0.99,),
    curve_settings: Sequence[float] = (),
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The full replay report (JSON-ready); see the module docstring."""
    reference = strongest_choices(dataset, ranking)
    results = []
    for strategy in strategies:
        for min_quality in min_qualities:
            if progress:
                progress(f"{strategy.value} at {min_quality:g}")
            choices = choose(dataset, policy, strategy, policy.setting_for(min_quality))
            results.append({
                "strategy": strategy.value, "minQuality": min_quality,
                **score(dataset, choices, reference).json(),
            })  # fmt: skip
    points = curve(dataset, policy, curve_settings, reference)
    return {
        "prompts": len(dataset),
        "policy": policy.name,
        "strongestModel": ranking[0],
        "strongest": score(dataset, reference, reference).json(),
        "oracle": score(dataset, oracle_choices(dataset), reference).json(),
        "results": results,
        "curve": [p.json() for p in points],
        "areaUnderCurve": round(
            area_under_curve([(p.score.cost_share, p.score.quality_share) for p in points]), 6
        ),
    }
