"""Budget status for people: how full, how fast, and where the period is heading.

Status follows the budget's own thresholds, by the strongest action reached:

* ``exceeded``: used (posted + held) ≥ the effective limit (a zero limit is always exceeded);
* ``critical``: a reached threshold restricts or refuses requests (``restrict-models``,
  ``require-approval``, ``limit-request-cost``, ``block-non-essential`` or ``block``);
* ``warning``: a reached threshold steers to cheaper models (``prefer-cheaper``);
* ``normal``: otherwise — notify-only thresholds alert but do not change the status.

With the default thresholds: normal below 70%, warning 70–85%, critical 85–100%, exceeded at
100%. The burn rate is posted spend per day of the window so far (at least one hour is assumed
elapsed, so the first minutes of a window do not project absurd totals); the projected total
extends that rate linearly to the window's end. Held amounts are in flight and not projected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from fractions import Fraction

from thrifty.budgets.model import BudgetState, Mode, Priority, Scope
from thrifty.budgets.overrides import Override
from thrifty.budgets.periods import Window
from thrifty.budgets.policy import Restrictions, restrictions_for
from thrifty.budgets.thresholds import Action, percent_used, thresholds_reached


class Status(StrEnum):
    NORMAL = "normal"
    WARNING = "warning"
    CRITICAL = "critical"
    EXCEEDED = "exceeded"


_SEVERITY = {Status.NORMAL: 0, Status.WARNING: 1, Status.CRITICAL: 2, Status.EXCEEDED: 3}
_CRITICAL_ACTIONS = frozenset(
    {
        Action.RESTRICT_MODELS,
        Action.REQUIRE_APPROVAL,
        Action.LIMIT_REQUEST_COST,
        Action.BLOCK_NON_ESSENTIAL,
        Action.BLOCK,
    }
)
_MICROSECOND = timedelta(microseconds=1)
_DAY = timedelta(days=1) // _MICROSECOND
_MIN_ELAPSED = timedelta(hours=1) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    budget_id: str
    scope: Scope
    mode: Mode
    window: Window
    limit_nano: int
    current_spend_nano: int
    held_nano: int
    remaining_nano: int
    percent_used: Decimal
    status: Status
    days_remaining: Decimal
    burn_rate_nano_per_day: int
    projected_total_nano: int


def status_level(state: BudgetState) -> Status:
    """The status of ``state`` by the mapping in this module's docstring."""
    if state.used_nano >= state.limit_nano:
        return Status.EXCEEDED
    reached = thresholds_reached(state.spec.thresholds, state.used_nano, state.limit_nano)
    actions = {action for threshold in reached for action in threshold.actions}
    if actions & _CRITICAL_ACTIONS:
        return Status.CRITICAL
    if Action.PREFER_CHEAPER in actions:
        return Status.WARNING
    return Status.NORMAL


def status_of(state: BudgetState) -> BudgetStatus:
    """Limit, spend, percentage, status, days left, burn rate and projection of ``state``."""
    window, now = state.window, state.now
    length = max(0, (window.end_utc - window.start_utc) // _MICROSECOND)
    left = min(length, max(0, (window.end_utc - now) // _MICROSECOND))
    elapsed = min(length, max(length - left, _MIN_ELAPSED))
    if elapsed > 0:
        burn_rate = round(Fraction(state.posted_nano * _DAY, elapsed))
        projected = round(Fraction(state.posted_nano * length, elapsed))
    else:
        burn_rate, projected = 0, state.posted_nano
    days = (Decimal(left) / Decimal(_DAY)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return BudgetStatus(
        budget_id=state.spec.id,
        scope=state.spec.scope,
        mode=state.spec.mode,
        window=window,
        limit_nano=state.limit_nano,
        current_spend_nano=state.posted_nano,
        held_nano=state.held_nano,
        remaining_nano=max(0, state.limit_nano - state.used_nano),
        percent_used=percent_used(state.used_nano, state.limit_nano),
        status=status_level(state),
        days_remaining=days,
        burn_rate_nano_per_day=burn_rate,
        projected_total_nano=max(projected, state.posted_nano),
    )


def aggregate_status(statuses: Iterable[Status]) -> Status:
    """The worst of ``statuses`` (``normal`` when there are none)."""
    return max(statuses, key=_SEVERITY.__getitem__, default=Status.NORMAL)


@dataclass(frozen=True, slots=True)
class ScopeStatus:
    budgets: tuple[BudgetStatus, ...]
    aggregate_status: Status
    cost_restrictions: Restrictions


def scope_status(
    states: Sequence[BudgetState],
    *,
    now: datetime,
    priority: Priority = Priority.NORMAL,
    overrides: Iterable[Override] = (),
) -> ScopeStatus:
    """Each budget's status, the worst of them, and the restrictions a request would meet."""
    budgets = tuple(status_of(state) for state in states)
    return ScopeStatus(
        budgets=budgets,
        aggregate_status=aggregate_status(budget.status for budget in budgets),
        cost_restrictions=restrictions_for(states, priority=priority, overrides=overrides, now=now),
    )
