"""What model selection saved (pure): each decided call priced again on its *baseline* model.

The baseline is the model the caller asked for when it named one (``basis`` ``requested``).
A request for ``auto`` or an alias named none; its baseline is the eligible candidate of
highest expected quality in the decision (``quality_first``): what a choice that ignored cost
would have used. The call's own tokens are priced at the baseline's price in force when the
call was made; the saving is that cost minus what the call did cost. Calls whose baseline is
the model that served them save nothing and count as unchanged; calls whose baseline has no
price (not registered any more) are counted apart, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from thrifty.pricing.catalog import TokenUsage

REQUESTED = "requested"
QUALITY_FIRST = "quality_first"

#: (model, when, usage) → its cost in USD, or None when the model has no price then.
Pricer = Callable[[str, datetime, TokenUsage], Decimal | None]


@dataclass(frozen=True, slots=True)
class DecidedCall:
    """One settled call that went through model selection."""

    requested_model: str | None
    served_model: str
    selected_model: str | None
    selected_quality: float | None
    alternatives: Sequence[Mapping[str, Any]]  # as in the decision's explanation
    usage: TokenUsage
    cost: Decimal
    at: datetime


def baseline_of(call: DecidedCall, registered: Collection[str]) -> tuple[str | None, str]:
    """The call's baseline model and its basis (``requested`` or ``quality_first``)."""
    if call.requested_model and call.requested_model in registered:
        return call.requested_model, REQUESTED
    best, best_quality = call.selected_model, call.selected_quality
    for alternative in call.alternatives:
        quality = alternative.get("quality")
        if not alternative.get("eligible") or not isinstance(quality, int | float):
            continue
        if best_quality is None or quality > best_quality:
            best, best_quality = str(alternative["model"]), float(quality)
    return best, QUALITY_FIRST


@dataclass
class Tally:
    requests: int = 0
    baseline: Decimal = Decimal(0)
    actual: Decimal = Decimal(0)

    def add(self, baseline: Decimal, actual: Decimal) -> None:
        self.requests += 1
        self.baseline += baseline
        self.actual += actual

    @property
    def saved(self) -> Decimal:
        return self.baseline - self.actual


@dataclass
class Savings:
    total: Tally = field(default_factory=Tally)
    by_basis: dict[str, Tally] = field(default_factory=dict)
    by_pair: dict[tuple[str, str], Tally] = field(default_factory=dict)  # (baseline, served)
    substituted: int = 0  # calls served by a model other than their baseline
    unpriced: int = 0  # calls whose baseline had no price


def savings(calls: Iterable[DecidedCall], registered: Collection[str], price: Pricer) -> Savings:
    found = Savings()
    for call in calls:
        baseline, basis = baseline_of(call, registered)
        if baseline is None:
            found.unpriced += 1
            continue
        if baseline == call.served_model:
            cost: Decimal | None = call.cost
        else:
            cost = price(baseline, call.at, call.usage)
        if cost is None:
            found.unpriced += 1
            continue
        found.substituted += baseline != call.served_model
        for tally in (
            found.total,
            found.by_basis.setdefault(basis, Tally()),
            found.by_pair.setdefault((baseline, call.served_model), Tally()),
        ):
            tally.add(cost, call.cost)
    return found
