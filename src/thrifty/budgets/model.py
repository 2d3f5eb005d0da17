"""The budget domain's values: scopes, budget specifications and budget states.

A request is charged to every budget on its chain (key, user, team, organization and each of
its tags) and must fit all of them. Everything here is an immutable value; the ledger in
``storage`` produces :class:`BudgetState` from what it has posted and held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from thrifty.budgets.periods import CarryOverPolicy, Period, Window
from thrifty.budgets.thresholds import DEFAULT_THRESHOLDS, Threshold
from thrifty.errors import InvalidInput

_MAX_ID_LENGTH = 200
_E = TypeVar("_E", bound=StrEnum)


class ScopeType(StrEnum):
    ORGANIZATION = "organization"
    TEAM = "team"
    USER = "user"
    KEY = "key"
    TAG = "tag"


class Mode(StrEnum):
    """``hard``: never overspent, requests are refused. ``soft``: overspending only notifies."""

    HARD = "hard"
    SOFT = "soft"


class Priority(StrEnum):
    """How much a request matters, as the caller marks it."""

    CRITICAL = "critical"
    NORMAL = "normal"
    NON_ESSENTIAL = "non-essential"


def _parse_choice(enum: type[_E], value: object, field: str) -> _E:
    if isinstance(value, str):
        key = value.strip().lower().replace("_", "-")
        for member in enum:
            if member.value == key:
                return member
    choices = ", ".join(member.value for member in enum)
    raise InvalidInput(f"{field} must be one of {choices}; got {value!r}", field=field)


def parse_priority(value: object, *, field: str = "priority") -> Priority:
    """A request's priority; ``None`` (not given) is ``normal``."""
    return Priority.NORMAL if value is None else _parse_choice(Priority, value, field)


def parse_mode(value: object, *, field: str = "mode") -> Mode:
    return _parse_choice(Mode, value, field)


def parse_scope_type(value: object, *, field: str = "scope.type") -> ScopeType:
    return _parse_choice(ScopeType, value, field)


def _check_id(value: object, field: str) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_ID_LENGTH:
        raise InvalidInput(
            f"{field} must be a non-empty string of at most {_MAX_ID_LENGTH} characters",
            field=field,
        )


def _check_nano(value: object, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{field} must be a non-negative integer of nano-USD", field=field)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a budget belongs to: ``Scope(ScopeType.TEAM, "eng")`` is written ``team:eng``."""

    type: ScopeType
    id: str

    def __post_init__(self) -> None:
        _check_id(self.id, "scope.id")

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"

    @classmethod
    def parse(cls, text: object, *, field: str = "scope") -> Scope:
        """``"team:eng"`` → ``Scope(TEAM, "eng")``."""
        if not isinstance(text, str) or ":" not in text:
            raise InvalidInput(f"{field} must be written type:id, e.g. team:eng", field=field)
        kind, _, identifier = text.partition(":")
        return cls(parse_scope_type(kind, field=field), identifier.strip())


@dataclass(frozen=True, slots=True)
class BudgetSpec:
    """A budget as configured. ``models=None`` covers every model."""

    id: str
    scope: Scope
    limit_nano: int
    period: Period
    mode: Mode = Mode.HARD
    models: frozenset[str] | None = None
    thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS
    carry_over: CarryOverPolicy = field(default_factory=CarryOverPolicy)

    def __post_init__(self) -> None:
        _check_id(self.id, "id")
        _check_nano(self.limit_nano, "limit")
        if self.models is not None:
            if not self.models:
                raise InvalidInput(
                    "models must name at least one model, or be omitted to cover all models",
                    field="models",
                )
            for model in self.models:
                _check_id(model, "models")
        percents = [threshold.percent for threshold in self.thresholds]
        if percents != sorted(set(percents)):
            raise InvalidInput(
                "thresholds must have distinct, ascending percents", field="thresholds"
            )


def applies_to(spec: BudgetSpec, model: str) -> bool:
    """Whether a request for ``model`` is charged to (and restricted by) ``spec``."""
    return spec.models is None or model in spec.models


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget at the instant ``now``, with the amounts of its current ``window``.

    ``extension_nano`` is the sum of the emergency extensions active at ``now``;
    ``carried_nano`` what was carried over from the previous period.
    """

    spec: BudgetSpec
    window: Window
    now: datetime
    posted_nano: int = 0
    held_nano: int = 0
    extension_nano: int = 0
    carried_nano: int = 0

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("BudgetState.now must be an aware datetime")
        for name in ("posted_nano", "held_nano", "extension_nano", "carried_nano"):
            _check_nano(getattr(self, name), name)

    @property
    def used_nano(self) -> int:
        """Posted spend plus amounts held for requests in flight."""
        return self.posted_nano + self.held_nano

    @property
    def limit_nano(self) -> int:
        """The effective limit: base limit + carry-over + active emergency extensions."""
        return self.spec.limit_nano + self.carried_nano + self.extension_nano
