"""What steering rules look at: one request, as the gateway has analysed it so far."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class RuleContext:
    """The inputs of rule evaluation. ``now`` must be timezone-aware (``ValueError`` if not).

    ``budget_percent`` maps a scope type (``organization``, ``team``, ``user``, ``key``,
    ``tag``) to the highest percent used among the chain's budgets of that scope type; a scope
    type without a budget is absent.
    """

    path: str
    requested_model: str
    org_id: str | None
    team_id: str | None
    user_id: str | None
    key_id: str | None
    tags: tuple[str, ...]
    metadata: Mapping[str, Any]
    task_type: str
    complexity: float
    input_tokens: int
    estimated_cost: Decimal
    budget_percent: Mapping[str, Decimal]
    priority: str
    now: datetime

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("RuleContext.now must be timezone-aware")


__all__ = ["RuleContext"]
