"""Conditions compiled once, at parse time, into predicates over a :class:`RuleContext`.

A condition becomes one or more :class:`Predicate` (one per key it tests, all of which must
hold). Sets, regular expressions, time zones and numeric bounds are prepared here, so a test
is a few attribute reads and comparisons.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from thrifty.rules.context import RuleContext
from thrifty.rules.predicates import Predicate, comparator_test, integral, member, number
from thrifty.rules.schema import (
    AnyCondition,
    BudgetCondition,
    Condition,
    CostCondition,
    MetadataCondition,
    NotCondition,
    PrincipalCondition,
    PriorityCondition,
    RequestCondition,
    TagsCondition,
    TaskCondition,
    TimeCondition,
    TokensCondition,
)
from thrifty.rules.values import DAYS

_MISSING = object()


def compile_conditions(conditions: Sequence[Condition]) -> tuple[Predicate, ...]:
    """The predicates of a ``when`` list, flattened: the rule matches when all hold."""
    return tuple(p for i, c in enumerate(conditions) for p in compile_condition(c, f"when[{i}]"))


def compile_condition(condition: Condition, where: str) -> list[Predicate]:
    return _COMPILERS[type(condition)](condition, f"{where} {condition.type}")


def _request(c: RequestCondition, label: str) -> list[Predicate]:
    parts = []
    if c.path is not None:
        parts.append(member(label, "path", "path", c.path))
    if c.model is not None:
        parts.append(member(label, "model", "requested_model", c.model))
    return parts


def _principal(c: PrincipalCondition, label: str) -> list[Predicate]:
    keys = ("org", "team", "user", "key")
    return [
        member(label, key, f"{key}_id", getattr(c, key))
        for key in keys
        if getattr(c, key) is not None
    ]


def _tags(c: TagsCondition, label: str) -> list[Predicate]:
    get = attrgetter("tags")
    parts = []
    if c.any is not None:
        wanted, shown = frozenset(c.any), list(c.any)
        parts.append(
            Predicate(
                lambda ctx: not wanted.isdisjoint(ctx.tags),
                get,
                lambda tags: f"{label} none of {shown} in {list(tags)}",
            )
        )
    if c.all is not None:
        needed = frozenset(c.all)
        parts.append(
            Predicate(
                lambda ctx: needed.issubset(ctx.tags),
                get,
                lambda tags: f"{label} {sorted(needed - set(tags))} missing",
            )
        )
    if c.none is not None:
        refused = frozenset(c.none)
        parts.append(
            Predicate(
                lambda ctx: refused.isdisjoint(ctx.tags),
                get,
                lambda tags: f"{label} {sorted(refused.intersection(tags))} present",
            )
        )
    return parts


def _metadata(c: MetadataCondition, label: str) -> list[Predicate]:
    key = c.key
    if c.exists is not None:
        exists = c.exists
        text = f"{label} {key!r} {'missing' if exists else 'present'}"
        return [Predicate(lambda ctx: (key in ctx.metadata) == exists, _nothing, lambda _: text)]
    values = c.equals or ()
    # A JSON float equals the Decimal written with the same digits; true is not 1 here.
    bools = frozenset(v for v in values if isinstance(v, bool))
    others = frozenset(v for v in values if not isinstance(v, bool)) | {
        float(v) for v in values if isinstance(v, Decimal)
    }

    def value_of(ctx: RuleContext) -> tuple[type, Any]:
        value = ctx.metadata.get(key, _MISSING)
        return value.__class__, value  # with its type: true and 1 are described apart

    def test(ctx: RuleContext) -> bool:
        value = ctx.metadata.get(key, _MISSING)
        if value.__class__ is bool:
            return value in bools
        try:
            return value in others
        except TypeError:  # an unhashable value (a list, a mapping) equals no scalar
            return False

    def describe(typed: tuple[type, Any]) -> str:
        value = typed[1]
        shown = "missing" if value is _MISSING else repr(value)
        return f"{label} {key!r} {shown} not in {list(values)}"

    return [Predicate(test, value_of, describe)]


def _task(c: TaskCondition, label: str) -> list[Predicate]:
    types = [t.value for t in c.task_type]
    parts = [member(label, "task_type", "task_type", types)]
    if c.complexity is not None:  # the analyser's complexity is a float: compare as floats
        parts.append(number(label, "complexity", c.complexity, float))
    return parts


def _tokens(c: TokensCondition, label: str) -> list[Predicate]:
    return [number(label, "input_tokens", c.input_tokens, integral)]


def _cost(c: CostCondition, label: str) -> list[Predicate]:
    return [number(label, "estimated_cost", c.estimated_cost)]


def _budget(c: BudgetCondition, label: str) -> list[Predicate]:
    within, miss = comparator_test(c.percent_used)
    scope = c.scope

    def percent(ctx: RuleContext) -> Decimal | None:
        if scope == "any":
            return max(ctx.budget_percent.values(), default=None)
        return ctx.budget_percent.get(scope)

    def test(ctx: RuleContext) -> bool:
        used = percent(ctx) if scope == "any" else ctx.budget_percent.get(scope)
        return used is not None and within(used)

    def describe(used: Decimal | None) -> str:
        found = f"no {scope} budget" if used is None else f"percent_used {miss(used)}"
        return f"{label} {scope} {found}"

    return [Predicate(test, percent, describe)]


def _priority(c: PriorityCondition, label: str) -> list[Predicate]:
    return [member(label, "", "priority", c.in_)]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


@cache
def _clock(timezone: str) -> Callable[[RuleContext], tuple[int, int]]:
    """(weekday, minute of the day) of ``ctx.now`` in ``timezone``. The last answer is kept,
    so all the rules on one time zone convert a request's time once."""
    zone = ZoneInfo(timezone)
    last: list[tuple[datetime, tuple[int, int]] | None] = [None]

    def clock(ctx: RuleContext) -> tuple[int, int]:
        now, entry = ctx.now, last[0]
        if entry is not None and entry[0] is now:
            return entry[1]
        local = now.astimezone(zone)
        at = (local.weekday(), local.hour * 60 + local.minute)
        last[0] = (now, at)  # one reference swap: safe across threads
        return at

    return clock


def _time(c: TimeCondition, label: str) -> list[Predicate]:
    clock = _clock(c.timezone)
    start, end = _minutes(c.between[0]), _minutes(c.between[1])
    days = None if c.days is None else frozenset(DAYS.index(day) for day in c.days)
    window = f"{c.between[0]}-{c.between[1]}" + (f" on {','.join(c.days)}" if c.days else "")

    def test(ctx: RuleContext) -> bool:
        day, minute = clock(ctx)
        if start < end:
            if not start <= minute < end:
                return False
        elif minute < end:  # the part after midnight belongs to the day the window opened
            day = (day - 1) % 7
        elif minute < start:
            return False
        return days is None or day in days

    def describe(at: tuple[int, int]) -> str:
        day, minute = at
        shown = f"{DAYS[day]} {minute // 60:02d}:{minute % 60:02d}"
        return f"{label} {shown} {c.timezone} not in {window}"

    return [Predicate(test, clock, describe)]


def _any(c: AnyCondition, label: str) -> list[Predicate]:
    where = label.rsplit(" ", 1)[0]
    groups = [compile_condition(sub, f"{where}.of[{i}]") for i, sub in enumerate(c.of)]
    alternatives = tuple(tuple(part.test for part in group) for group in groups)
    parts = [part for group in groups for part in group]

    def test(ctx: RuleContext) -> bool:
        for tests in alternatives:
            for check in tests:
                if not check(ctx):
                    break
            else:
                return True
        return False

    def failures(ctx: RuleContext) -> tuple[str, ...]:
        return tuple(part.explain(ctx) for part in parts if not part.test(ctx))

    return [Predicate(test, failures, lambda found: f"{label}: none held ({'; '.join(found)})")]


def _not(c: NotCondition, label: str) -> list[Predicate]:
    where = label.rsplit(" ", 1)[0]
    tests = tuple(part.test for part in compile_condition(c.condition, f"{where}.condition"))
    text = f"{label}: the condition held"

    def test(ctx: RuleContext) -> bool:
        for check in tests:  # noqa: SIM110 (loops are faster than all() of a generator)
            if not check(ctx):
                return True
        return False

    return [Predicate(test, _nothing, lambda _: text)]


def _nothing(ctx: RuleContext) -> None:
    return None


_COMPILERS: dict[type[Any], Callable[[Any, str], list[Predicate]]] = {
    RequestCondition: _request,
    PrincipalCondition: _principal,
    TagsCondition: _tags,
    MetadataCondition: _metadata,
    TaskCondition: _task,
    TokensCondition: _tokens,
    CostCondition: _cost,
    BudgetCondition: _budget,
    PriorityCondition: _priority,
    TimeCondition: _time,
    AnyCondition: _any,
    NotCondition: _not,
}
