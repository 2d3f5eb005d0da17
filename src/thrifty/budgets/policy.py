"""The graduated policy: budget states of a request's chain → :class:`Restrictions`.

For each budget that applies, the thresholds its used amount (posted + held) has reached are
collected and the **union** of their actions applies, so more spend can only add actions
(restrictions are monotone in spend). Across the chain the strictest value of each field wins.

Action → restriction:

* ``prefer-cheaper``: ``model_downgrading`` at least ``prefer``.
* ``restrict-models``: ``model_downgrading`` = ``enforce``.
* ``require-approval``: a request estimated above ``approval_above_share`` (default 10%) of the
  budget's headroom needs approval (``require_approval_above_nano``); a matching approved
  override counts as approval.
* ``limit-request-cost``: no request may cost more than ``max_cost_share`` (default 5%) of the
  headroom (``max_cost_per_request_nano``). The cap shrinks as the budget fills, so no single
  request can take the rest, and at least twenty maximal requests still fit.
* ``block-non-essential``: non-essential requests are refused.
* ``block``: every request is refused, except a critical one with a matching approved override
  that still has allowance; its headroom then includes that allowance.

Soft budgets report enforcing actions in ``reasons`` but never enforce them; they still steer
towards cheaper models. A budget limited to some models restricts only requests for those
models; when no model is chosen yet (``model=None``) such a budget contributes only
``blocked_models`` (its models, once it blocks) — ask again per candidate model for the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from thrifty.budgets.fit import headroom_nano
from thrifty.budgets.model import BudgetState, Mode, Priority, applies_to
from thrifty.budgets.money import format_nano
from thrifty.budgets.overrides import Override, matching_override
from thrifty.budgets.thresholds import (
    DEFAULT_REQUEST_LIMITS,
    ENFORCING_ACTIONS,
    Action,
    RequestLimits,
    Threshold,
    percent_used,
    thresholds_reached,
)


class Downgrading(StrEnum):
    NONE = "none"
    PREFER = "prefer"
    ENFORCE = "enforce"


_RANK = {Downgrading.NONE: 0, Downgrading.PREFER: 1, Downgrading.ENFORCE: 2}


def _tighter_cap(current: int | None, new: int) -> int:
    return new if current is None else min(current, new)


def _cap_at_most(mine: int | None, theirs: int | None) -> bool:
    return theirs is None or (mine is not None and mine <= theirs)


@dataclass(frozen=True, slots=True)
class Restrictions:
    """What model selection must respect for one request. ``reasons`` explains each field."""

    model_downgrading: Downgrading = Downgrading.NONE
    downgrade_percent: Decimal | None = None  # the threshold (percent) that set the downgrading
    blocked_models: frozenset[str] = frozenset()
    require_approval_above_nano: int | None = None
    max_cost_per_request_nano: int | None = None
    block_non_essential: bool = False
    blocked: bool = False
    blocking_budget: str | None = None
    overrides_used: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    def at_least_as_strict_as(self, other: Restrictions) -> bool:
        """Whether every restriction of ``other`` is also (at least as tightly) in ``self``."""
        return (
            _RANK[self.model_downgrading] >= _RANK[other.model_downgrading]
            and self.blocked_models >= other.blocked_models
            and _cap_at_most(self.require_approval_above_nano, other.require_approval_above_nano)
            and _cap_at_most(self.max_cost_per_request_nano, other.max_cost_per_request_nano)
            and self.block_non_essential >= other.block_non_essential
            and self.blocked >= other.blocked
        )


NO_RESTRICTIONS = Restrictions()


@dataclass
class _Builder:
    downgrading: Downgrading = Downgrading.NONE
    downgrade_percent: Decimal | None = None
    blocked_models: set[str] = field(default_factory=set)
    approval_above: int | None = None
    max_cost: int | None = None
    block_non_essential: bool = False
    blocking_budget: str | None = None
    overrides_used: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def downgrade(self, level: Downgrading, percent: Decimal) -> None:
        if _RANK[level] > _RANK[self.downgrading]:
            self.downgrading = level
            self.downgrade_percent = percent

    def block(self, budget_id: str) -> None:
        if self.blocking_budget is None:
            self.blocking_budget = budget_id

    def build(self) -> Restrictions:
        return Restrictions(
            model_downgrading=self.downgrading,
            downgrade_percent=self.downgrade_percent,
            blocked_models=frozenset(self.blocked_models),
            require_approval_above_nano=self.approval_above,
            max_cost_per_request_nano=self.max_cost,
            block_non_essential=self.block_non_essential,
            blocked=self.blocking_budget is not None,
            blocking_budget=self.blocking_budget,
            overrides_used=tuple(dict.fromkeys(self.overrides_used)),
            reasons=tuple(self.reasons),
        )


def _first_threshold_per_action(reached: Sequence[Threshold]) -> dict[Action, Threshold]:
    first: dict[Action, Threshold] = {}
    for threshold in reached:
        for action in threshold.actions:
            first.setdefault(action, threshold)
    return first


def _apply_budget(
    builder: _Builder,
    state: BudgetState,
    *,
    model: str | None,
    priority: Priority,
    overrides: Sequence[Override],
    now: datetime,
    limits: RequestLimits,
) -> None:
    spec = state.spec
    reached = thresholds_reached(spec.thresholds, state.used_nano, state.limit_nano)
    if not reached:
        return
    override = matching_override(overrides, spec, model=model, priority=priority, now=now)
    headroom = max(0, headroom_nano(state, override))
    scoped_only = model is None and spec.models is not None
    label = (
        f"budget {spec.id} ({spec.scope}) at "
        f"{percent_used(state.used_nano, state.limit_nano)}% of "
        f"{format_nano(state.limit_nano)} USD"
    )
    for action, threshold in _first_threshold_per_action(reached).items():
        why = f"{label}, {threshold.percent}% threshold"
        if action is Action.NOTIFY or (
            scoped_only and action is not Action.BLOCK and action is not Action.BLOCK_NON_ESSENTIAL
        ):
            continue
        if spec.mode is Mode.SOFT and action in ENFORCING_ACTIONS:
            builder.reasons.append(f"{why}: {action} (soft budget, not enforced)")
            continue
        if action is Action.PREFER_CHEAPER:
            builder.downgrade(Downgrading.PREFER, threshold.percent)
            builder.reasons.append(f"{why}: prefer cheaper models")
        elif action is Action.RESTRICT_MODELS:
            builder.downgrade(Downgrading.ENFORCE, threshold.percent)
            builder.reasons.append(f"{why}: only cheaper models")
        elif action is Action.REQUIRE_APPROVAL:
            if override is not None:
                builder.overrides_used.append(override.id)
                builder.reasons.append(f"{why}: approval given by override {override.id}")
                continue
            above = limits.share_of(limits.approval_above_share, headroom)
            builder.approval_above = _tighter_cap(builder.approval_above, above)
            builder.reasons.append(f"{why}: approval required above {format_nano(above)} USD")
        elif action is Action.LIMIT_REQUEST_COST:
            cap = limits.share_of(limits.max_cost_share, headroom)
            builder.max_cost = _tighter_cap(builder.max_cost, cap)
            builder.reasons.append(f"{why}: at most {format_nano(cap)} USD per request")
        elif action is Action.BLOCK_NON_ESSENTIAL:
            if not scoped_only:
                builder.block_non_essential = True
            if priority is Priority.NON_ESSENTIAL:
                _refuse(builder, state, why, "non-essential requests blocked", scoped_only)
            elif not scoped_only:
                builder.reasons.append(f"{why}: non-essential requests blocked")
        elif action is Action.BLOCK:
            if override is not None and headroom > 0:
                builder.overrides_used.append(override.id)
                builder.reasons.append(
                    f"{why}: blocked, but override {override.id} lets this "
                    f"critical request use {format_nano(headroom)} USD more"
                )
            else:
                _refuse(builder, state, why, "all requests blocked", scoped_only)


def _refuse(builder: _Builder, state: BudgetState, why: str, what: str, scoped_only: bool) -> None:
    models = state.spec.models
    if scoped_only and models is not None:
        builder.blocked_models.update(models)
        builder.reasons.append(f"{why}: {what} for {', '.join(sorted(models))}")
    else:
        builder.block(state.spec.id)
        builder.reasons.append(f"{why}: {what}")


def restrictions_for(
    states: Sequence[BudgetState],
    *,
    priority: Priority = Priority.NORMAL,
    overrides: Iterable[Override] = (),
    now: datetime,
    model: str | None = None,
    limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
) -> Restrictions:
    """The restrictions the budgets of a request's chain (``states``, in chain order) impose.

    ``model`` is the model the request would use, or ``None`` before one is chosen. Overrides
    are judged at ``now``. ``blocking_budget`` is the first blocking budget in chain order.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    overrides = tuple(overrides)
    builder = _Builder()
    for state in states:
        if model is not None and not applies_to(state.spec, model):
            continue
        _apply_budget(
            builder,
            state,
            model=model,
            priority=priority,
            overrides=overrides,
            now=now,
            limits=limits,
        )
    return builder.build()
