"""Does a request of a given cost fit every budget on its chain?

This is the pure check the ledger runs inside the same atomic step as the hold: for every
**hard** budget that applies, ``posted + held + amount ≤ effective limit``, where the effective
limit is the base limit plus carry-over, active emergency extensions and — for a critical
request — the allowance left on a matching approved override. Soft budgets never refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from thrifty.budgets.model import BudgetState, Mode, Priority, applies_to
from thrifty.budgets.overrides import Override, matching_override


@dataclass(frozen=True, slots=True)
class FitResult:
    """``ok``, or the first budget (in chain order) the amount does not fit, and by how much."""

    ok: bool
    failing_budget: str | None = None
    shortfall_nano: int = 0


def headroom_nano(state: BudgetState, override: Override | None = None) -> int:
    """What is left of ``state``'s effective limit (negative when a soft budget is overspent)."""
    allowance = 0 if override is None else override.remaining_nano
    return state.limit_nano + allowance - state.used_nano


def fits(
    states: Sequence[BudgetState],
    amount_nano: int,
    *,
    model: str | None = None,
    priority: Priority = Priority.NORMAL,
    overrides: Iterable[Override] = (),
    now: datetime | None = None,
) -> FitResult:
    """Whether ``amount_nano`` more fits every hard budget of ``states`` that applies.

    ``model=None`` (not chosen yet) checks every budget, including model-specific ones, which
    can only refuse more. Overrides are judged at ``now`` (default: each state's ``now``).
    """
    if isinstance(amount_nano, bool) or not isinstance(amount_nano, int) or amount_nano < 0:
        raise ValueError("amount_nano must be a non-negative int")
    overrides = tuple(overrides)
    for state in states:
        spec = state.spec
        if spec.mode is Mode.SOFT or (model is not None and not applies_to(spec, model)):
            continue
        override = matching_override(
            overrides, spec, model=model, priority=priority, now=state.now if now is None else now
        )
        headroom = headroom_nano(state, override)
        if amount_nano > headroom:
            return FitResult(False, spec.id, amount_nano - headroom)
    return FitResult(True)
