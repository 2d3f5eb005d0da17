"""Graduated-enforcement thresholds: the actions that apply as a budget fills up.

The defaults are data, in ``data/default_thresholds.yaml``, validated when this module loads
(a broken file is a ``ConfigError`` at start-up, not a surprise on the hot path). User-supplied
thresholds go through the same :func:`parse_thresholds` and fail with ``InvalidInput``.

Whether a threshold is reached is decided with exact integer arithmetic:
``used × 100 ≥ percent × limit``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from importlib import resources
from typing import TYPE_CHECKING

import yaml

from thrifty.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from thrifty.budgets.model import BudgetSpec


class Action(StrEnum):
    NOTIFY = "notify"
    PREFER_CHEAPER = "prefer-cheaper"
    RESTRICT_MODELS = "restrict-models"
    REQUIRE_APPROVAL = "require-approval"
    LIMIT_REQUEST_COST = "limit-request-cost"
    BLOCK_NON_ESSENTIAL = "block-non-essential"
    BLOCK = "block"


# Actions that refuse requests; a soft budget reports them but never enforces them.
ENFORCING_ACTIONS = frozenset(
    {Action.REQUIRE_APPROVAL, Action.LIMIT_REQUEST_COST, Action.BLOCK_NON_ESSENTIAL, Action.BLOCK}
)
_MAX_PERCENT_PLACES = 4


@dataclass(frozen=True, slots=True)
class Threshold:
    """At ``percent`` (0 < percent ≤ 100) of the effective limit, ``actions`` apply."""

    percent: Decimal
    actions: tuple[Action, ...]

    def reached(self, used_nano: int, limit_nano: int) -> bool:
        """Whether ``used_nano`` is at least ``percent`` of ``limit_nano`` (exactly)."""
        numerator, denominator = self.percent.as_integer_ratio()
        return used_nano * 100 * denominator >= numerator * limit_nano


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """Per-request limits as shares (0 < share ≤ 1) of a budget's remaining headroom."""

    approval_above_share: Decimal
    max_cost_share: Decimal

    def share_of(self, share: Decimal, headroom_nano: int) -> int:
        numerator, denominator = share.as_integer_ratio()
        return max(0, headroom_nano) * numerator // denominator


def _parse_percent(value: object, *, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidInput(f"{field} must be a number between 0 and 100", field=field)
    try:
        # A float percentage is taken at its shortest decimal spelling (12.5 → "12.5").
        percent = Decimal(repr(value) if isinstance(value, float) else value)
    except InvalidOperation:
        raise InvalidInput(
            f"{field} must be a number between 0 and 100, not {value!r}", field=field
        ) from None
    if not percent.is_finite() or not 0 < percent <= 100:
        raise InvalidInput(
            f"{field} must be greater than 0 and at most 100, not {value!r}", field=field
        )
    exponent = percent.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > _MAX_PERCENT_PLACES:
        raise InvalidInput(
            f"{field} has more than {_MAX_PERCENT_PLACES} decimal places", field=field
        )
    return percent


def _parse_actions(value: object, *, field: str) -> tuple[Action, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInput(f"{field} must be a non-empty list of actions", field=field)
    actions: list[Action] = []
    for position, item in enumerate(value):
        try:
            action = Action(item.strip().lower() if isinstance(item, str) else item)
        except ValueError:
            choices = ", ".join(a.value for a in Action)
            raise InvalidInput(
                f"{field}[{position}]: unknown action {item!r}; expected one of {choices}",
                field=f"{field}[{position}]",
            ) from None
        if action in actions:
            raise InvalidInput(
                f"{field}: action {action} is listed twice", field=f"{field}[{position}]"
            )
        actions.append(action)
    return tuple(actions)


def parse_thresholds(raw: object, *, field: str = "thresholds") -> tuple[Threshold, ...]:
    """Validate ``[{percent: 50, actions: [notify]}, …]``; the result is sorted by percent."""
    if not isinstance(raw, list | tuple) or not raw:
        raise InvalidInput(f"{field} must be a non-empty list", field=field)
    thresholds: list[Threshold] = []
    for position, item in enumerate(raw):
        where = f"{field}[{position}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(f"{where} must be a mapping with percent and actions", field=where)
        unknown = sorted(str(key) for key in item if key not in ("percent", "actions"))
        if unknown:
            raise InvalidInput(f"{where}: unknown keys {', '.join(unknown)}", field=where)
        if "percent" not in item or "actions" not in item:
            raise InvalidInput(f"{where} needs both percent and actions", field=where)
        percent = _parse_percent(item["percent"], field=f"{where}.percent")
        if any(existing.percent == percent for existing in thresholds):
            raise InvalidInput(f"{where}: two thresholds at {percent}%", field=f"{where}.percent")
        thresholds.append(
            Threshold(percent, _parse_actions(item["actions"], field=f"{where}.actions"))
        )
    return tuple(sorted(thresholds, key=lambda threshold: threshold.percent))


def _parse_share(raw: Mapping[object, object], key: str) -> Decimal:
    value = raw.get(key)
    if not isinstance(value, str | int):
        raise InvalidInput(
            f"request_limits.{key} must be a quoted decimal", field=f"request_limits.{key}"
        )
    try:
        share = Decimal(value)
    except InvalidOperation:
        share = Decimal("NaN")
    if not share.is_finite() or not 0 < share <= 1:
        raise InvalidInput(
            f"request_limits.{key} must be greater than 0 and at most 1",
            field=f"request_limits.{key}",
        )
    return share


def load_defaults(text: str, *, source: str) -> tuple[tuple[Threshold, ...], RequestLimits]:
    """Parse the defaults file's ``text``; any problem is a ``ConfigError`` naming ``source``."""
    try:
        raw = yaml.safe_load(text)
        if not isinstance(raw, dict) or set(raw) != {"thresholds", "request_limits"}:
            raise InvalidInput("expected exactly the keys thresholds and request_limits")
        limits_raw = raw["request_limits"]
        if not isinstance(limits_raw, dict):
            raise InvalidInput("request_limits must be a mapping")
        limits = RequestLimits(
            _parse_share(limits_raw, "approval_above_share"),
            _parse_share(limits_raw, "max_cost_share"),
        )
        return parse_thresholds(raw["thresholds"]), limits
    except (yaml.YAMLError, InvalidInput) as error:
        raise ConfigError(f"{source}: {error}") from error


def _load_packaged() -> tuple[tuple[Threshold, ...], RequestLimits]:
    resource = resources.files("thrifty.budgets").joinpath("data/default_thresholds.yaml")
    return load_defaults(resource.read_text(encoding="utf-8"), source=str(resource))


DEFAULT_THRESHOLDS, DEFAULT_REQUEST_LIMITS = _load_packaged()


def thresholds_crossed(
    spec: BudgetSpec, before_nano: int, after_nano: int, *, limit_nano: int | None = None
) -> list[Threshold]:
    """Thresholds of ``spec`` that a change of used amount from ``before`` to ``after`` crosses.

    A threshold is crossed when it was not reached before and is reached after, so over any
    non-decreasing sequence of amounts each threshold is reported exactly once: one alert per
    crossing, not one per request. ``limit_nano`` is the effective limit (default: the spec's).
    """
    limit = spec.limit_nano if limit_nano is None else limit_nano
    return [
        threshold
        for threshold in spec.thresholds
        if threshold.reached(after_nano, limit) and not threshold.reached(before_nano, limit)
    ]


def thresholds_reached(
    thresholds: Sequence[Threshold], used_nano: int, limit_nano: int
) -> tuple[Threshold, ...]:
    """The thresholds (ascending) that ``used_nano`` of ``limit_nano`` has reached."""
    return tuple(t for t in thresholds if t.reached(used_nano, limit_nano))


def percent_used(used_nano: int, limit_nano: int) -> Decimal:
    """``used`` as a percentage of ``limit``, rounded down to 2 places (a zero limit is 100%).

    Rounding down keeps the shown figure consistent with the exact threshold test: a budget
    shown at 85.00% has reached its 85% threshold.
    """
    if limit_nano <= 0:
        return Decimal("100.00")
    return Decimal(max(0, used_nano) * 10_000 // limit_nano).scaleb(-2)
