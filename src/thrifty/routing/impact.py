"""What a request would do to each budget of its chain (the decision's ``budgetImpact``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from thrifty.budgets.model import BudgetState
from thrifty.budgets.money import format_nano
from thrifty.budgets.thresholds import percent_used


def budget_impact(states: Sequence[BudgetState], cost_nano: int) -> list[dict[str, Any]]:
    """Per budget: its limit, what is used, and the percent used before and after the request."""
    return [
        {
            "budgetId": state.spec.id,
            "scope": str(state.spec.scope),
            "limit": format_nano(state.limit_nano),
            "used": format_nano(state.used_nano),
            "cost": format_nano(cost_nano),
            "percentBefore": str(percent_used(state.used_nano, state.limit_nano)),
            "percentAfter": str(percent_used(state.used_nano + cost_nano, state.limit_nano)),
            "remainingAfter": format_nano(max(0, state.limit_nano - state.used_nano - cost_nano)),
        }
        for state in states
    ]
