"""Approved overrides and emergency extensions: the two ways past a budget's limit.

* An **emergency extension** raises a budget's limit by an amount for everyone until it
  expires by itself. :func:`active_extension_nano` sums the ones in force at ``now``; the
  result is :attr:`BudgetState.extension_nano`.
* An **override** is an approved, bounded allowance on top of one budget's limit for
  **critical** requests only (optionally only for some models), until ``expires_at``. It is
  how a critical request gets through a budget at 100%. It always carries an amount, so a hard
  budget stays bounded: ``posted + held ≤ limit + extensions + matching override allowance``.
  The ledger tracks how much of the allowance was used (``consumed_nano``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from thrifty.budgets.model import BudgetSpec, Priority
from thrifty.errors import InvalidInput


def _check_aware(value: datetime, field: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{field} must include a time zone", field=field)


def _check_amount(value: object, field: str, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise InvalidInput(
            f"{field} must be a {'positive' if positive else 'non-negative'} integer of nano-USD",
            field=field,
        )


@dataclass(frozen=True, slots=True)
class Extension:
    """Raises budget ``budget_id``'s limit by ``amount_nano`` during ``[starts_at, expires_at)``."""

    id: str
    budget_id: str
    amount_nano: int
    starts_at: datetime
    expires_at: datetime

    def __post_init__(self) -> None:
        _check_amount(self.amount_nano, "amount", positive=True)
        _check_aware(self.starts_at, "starts_at")
        _check_aware(self.expires_at, "expires_at")
        if self.expires_at <= self.starts_at:
            raise InvalidInput("expires_at must be after starts_at", field="expires_at")

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.expires_at


def active_extension_nano(extensions: Iterable[Extension], budget_id: str, now: datetime) -> int:
    """The total of ``budget_id``'s extensions in force at ``now``."""
    return sum(e.amount_nano for e in extensions if e.budget_id == budget_id and e.active(now))


@dataclass(frozen=True, slots=True)
class Override:
    """An allowance of ``amount_nano`` past budget ``budget_id`` for critical requests."""

    id: str
    budget_id: str
    amount_nano: int
    expires_at: datetime
    approved: bool = False
    models: frozenset[str] | None = None
    consumed_nano: int = 0

    def __post_init__(self) -> None:
        _check_amount(self.amount_nano, "amount", positive=True)
        _check_amount(self.consumed_nano, "consumed", positive=False)
        _check_aware(self.expires_at, "expires_at")
        if self.models is not None and not self.models:
            raise InvalidInput("models must name at least one model, or be omitted", field="models")

    @property
    def remaining_nano(self) -> int:
        return max(0, self.amount_nano - self.consumed_nano)

    def matches(
        self, spec: BudgetSpec, *, model: str | None, priority: Priority, now: datetime
    ) -> bool:
        """Whether this override lets a request for ``model`` past ``spec`` at ``now``.

        ``model=None`` (not chosen yet) matches only an override that names no models.
        """
        return (
            self.approved
            and priority is Priority.CRITICAL
            and self.budget_id == spec.id
            and now < self.expires_at
            and self.remaining_nano > 0
            and (self.models is None or (model is not None and model in self.models))
        )


def matching_override(
    overrides: Iterable[Override],
    spec: BudgetSpec,
    *,
    model: str | None,
    priority: Priority,
    now: datetime,
) -> Override | None:
    """The matching override with the most allowance left (ties: smallest id), if any."""
    candidates = [o for o in overrides if o.matches(spec, model=model, priority=priority, now=now)]
    if not candidates:
        return None
    return min(candidates, key=lambda override: (-override.remaining_nano, override.id))
