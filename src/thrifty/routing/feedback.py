"""Learning model quality from feedback: a Beta–Bernoulli update per model and task type.

A model's configured quality ``q`` for a task is the prior, worth ``prior_strength``
observations: Beta(q·n₀, (1−q)·n₀). Each feedback score ``s`` in 0..1 adds ``s`` to the
successes and ``1 − s`` to the failures, so the posterior mean moves from the profile towards
what users report, faster the more they report. Selection uses the posterior mean; with
probability ``exploration`` it uses a draw from the posterior instead (Thompson sampling), so a
model whose record is thin still gets tried now and then. The random source is passed in.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

DEFAULT_PRIOR_STRENGTH = 20.0
DEFAULT_EXPLORATION = 0.05


@dataclass(frozen=True)
class QualityBook:
    """Feedback totals: (model, task type) → (count, sum of scores)."""

    observations: Mapping[tuple[str, str], tuple[int, Decimal]] = field(default_factory=dict)
    prior_strength: float = DEFAULT_PRIOR_STRENGTH
    exploration: float = DEFAULT_EXPLORATION

    def __post_init__(self) -> None:
        if self.prior_strength <= 0:
            raise ValueError("prior_strength must be positive")
        if not 0 <= self.exploration <= 1:
            raise ValueError("exploration must be between 0 and 1")

    def _posterior(self, model: str, task: str, prior: float) -> tuple[float, float]:
        count, total = self.observations.get((model, task), (0, Decimal(0)))
        prior = min(1.0, max(0.0, prior))
        successes = float(total)
        alpha = prior * self.prior_strength + successes
        beta = (1.0 - prior) * self.prior_strength + (count - successes)
        return max(alpha, 1e-9), max(beta, 1e-9)

    def expected(self, model: str, task: str, prior: float) -> float:
        """The posterior mean quality of ``model`` on ``task``."""
        if (model, task) not in self.observations:
            return min(1.0, max(0.0, prior))
        alpha, beta = self._posterior(model, task, prior)
        return alpha / (alpha + beta)

    def count(self, model: str, task: str) -> int:
        return self.observations.get((model, task), (0, Decimal(0)))[0]

    def quality(self, model: str, task: str, prior: float, rng: random.Random | None) -> float:
        """The quality selection uses: the mean, or now and then a posterior draw."""
        if rng is None or self.exploration == 0 or rng.random() >= self.exploration:
            return self.expected(model, task, prior)
        alpha, beta = self._posterior(model, task, prior)
        return rng.betavariate(alpha, beta)


EMPTY_BOOK = QualityBook()
