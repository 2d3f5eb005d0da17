"""The value types of steering rules: numbers, names, times, comparators and their checks.

Numbers are ``Decimal``: YAML fractions arrive as ``Decimal``, JSON floats are read from their
shortest text (never through binary) and numeric strings are accepted. Every mapping refuses
unknown keys.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictStr,
    model_validator,
)

from thrifty.budgets.model import Priority, ScopeType
from thrifty.errors import InvalidInput
from thrifty.routing.strategy import QUALITY_LEVELS, parse_quality_requirement

SCOPES = (*(scope.value for scope in ScopeType), "any")
PRIORITIES = tuple(priority.value for priority in Priority)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
}
SYMBOLS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=="}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def suggestion(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def choice(kind: str, allowed: Sequence[str]) -> BeforeValidator:
    def check(value: object) -> object:
        if isinstance(value, str) and value in allowed:
            return value
        hint = suggestion(value, allowed) if isinstance(value, str) else ""
        raise ValueError(f"unknown {kind} {value!r}{hint}; allowed: {', '.join(allowed)}")

    return BeforeValidator(check)


def listed(value: object) -> object:
    """One value or a list of them."""
    return value if isinstance(value, list | tuple) else [value]


def to_decimal(value: object) -> Decimal:
    """A number from YAML (int, Decimal), JSON (int, float, string) or text; never via binary."""
    number: Decimal | None = None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite():
        raise ValueError(f"must be a finite number; got {value!r}")
    return number


def _number_json(value: Decimal) -> int | str:
    """A whole number as a JSON integer; any other as its exact decimal text."""
    return int(value) if value == value.to_integral_value() else str(value)


def _scalar(value: object) -> object:
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float | Decimal):
        return to_decimal(value)
    raise ValueError(f"must be a string, number or boolean; got {value!r}")


def _scalar_json(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def clock(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'times are quoted "HH:MM" strings (YAML reads 18:00 as {value})')
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f'must be a time "HH:MM" from 00:00 to 23:59; got {value!r}')
    return f"{int(match[1]):02d}:{match[2]}"


def zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {value!r} (an IANA name such as 'Europe/Paris')"
        ) from None
    return value


def quality(value: object) -> object:
    try:
        share = parse_quality_requirement(value, field="quality_requirement")
    except InvalidInput as exc:
        raise ValueError(exc.message.removeprefix("quality_requirement ")) from None
    text = value.strip().lower() if isinstance(value, str) else None
    return text if text in QUALITY_LEVELS else share


Number = Annotated[
    Decimal, BeforeValidator(to_decimal), PlainSerializer(_number_json, when_used="json")
]
Money = Annotated[Number, Field(ge=0)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=2000)]
Id = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Ids = Annotated[tuple[Id, ...], BeforeValidator(listed), Field(min_length=1, max_length=1000)]
ModelId = Annotated[
    StrictStr, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.:/@+-]*$")
]
Patterns = Annotated[
    tuple[Annotated[StrictStr, Field(min_length=1, max_length=500)], ...],
    BeforeValidator(listed),
    Field(min_length=1, max_length=1000),
]
Scalars = Annotated[
    tuple[
        Annotated[Any, BeforeValidator(_scalar), PlainSerializer(_scalar_json, when_used="json")],
        ...,
    ],
    BeforeValidator(listed),
    Field(min_length=1, max_length=1000),
]
Scope = Annotated[str, choice("scope", SCOPES)]
ClockTime = Annotated[str, BeforeValidator(clock)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    needs_one_of: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _needs_one(self) -> Self:
        if self.needs_one_of and all(getattr(self, key) is None for key in self.needs_one_of):
            raise ValueError(f"needs at least one of {', '.join(self.needs_one_of)}")
        return self


class Comparator(Strict):
    gt: Number | None = None
    gte: Number | None = None
    lt: Number | None = None
    lte: Number | None = None
    eq: Number | None = None
    needs_one_of = ("gt", "gte", "lt", "lte", "eq")

    def bounds(self) -> tuple[tuple[str, Decimal], ...]:
        found = ((name, getattr(self, name)) for name in OPERATORS)
        return tuple((name, bound) for name, bound in found if bound is not None)

    @model_validator(mode="after")
    def _satisfiable(self) -> Self:
        bounds = dict(self.bounds())
        if "eq" in bounds:
            holds = all(OPERATORS[name](bounds["eq"], bound) for name, bound in bounds.items())
        else:
            lower = [(b, name == "gt") for name, b in bounds.items() if name in ("gt", "gte")]
            upper = [(b, name == "lt") for name, b in bounds.items() if name in ("lt", "lte")]
            holds = all(
                low < high or (low == high and not (open_low or open_high))
                for low, open_low in lower
                for high, open_high in upper
            )
        if not holds:
            raise ValueError("no number satisfies every bound of this comparator")
        return self
