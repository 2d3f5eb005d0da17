"""The building blocks of compiled conditions: :class:`Predicate`, and the tests of a
context attribute against a set of names (or globs) and against a numeric comparator.

A predicate's ``test`` reads the context; for the trace, ``key`` reads the value the test
looked at and ``describe`` says why that value failed. The outcome depends on ``key(ctx)``
alone, so the evaluator can keep the trace of a failure by that value.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter
from typing import Any

from thrifty.rules.context import RuleContext
from thrifty.rules.values import OPERATORS, SYMBOLS, Comparator

Test = Callable[[RuleContext], bool]
MEMO_SIZE = 256
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True, slots=True)
class Predicate:
    test: Test
    key: Callable[[RuleContext], Any]
    """The context value the test looked at (hashable, or the description is not kept)."""
    describe: Callable[[Any], str]
    """Why the test failed for that value, e.g. ``when[1] budget team percent_used 42 not >=
    70``."""

    def explain(self, ctx: RuleContext) -> str:
        return self.describe(self.key(ctx))


def _same(bound: Decimal) -> Decimal:
    return bound


def comparator_test(
    comparator: Comparator,
    convert: Callable[[Decimal], Any] = _same,
    read: Callable[[Any], Any] | None = None,
) -> tuple[Callable[[Any], bool], Callable[[Any], str]]:
    """A test of a number against every bound, and the description of the first bound a
    number misses. With ``read``, the test takes what ``read`` turns into the number."""
    checks = tuple(
        (OPERATORS[name], convert(bound), f"{SYMBOLS[name]} {bound}")
        for name, bound in comparator.bounds()
    )
    get = read or _same
    if len(checks) == 1:
        ((compare, bound, _),) = checks

        def test(value: Any) -> bool:
            return compare(get(value), bound)
    elif len(checks) == 2:
        (compare_1, bound_1, _), (compare_2, bound_2, _) = checks

        def test(value: Any) -> bool:
            number = get(value)
            return compare_1(number, bound_1) and compare_2(number, bound_2)
    else:
        pairs = tuple((compare, bound) for compare, bound, _ in checks)

        def test(value: Any) -> bool:
            number = get(value)
            return all(compare(number, bound) for compare, bound in pairs)

    def explain(value: Any) -> str:
        missed = next(text for compare, bound, text in checks if not compare(value, bound))
        return f"{value} not {missed}"

    return test, explain


def number(
    label: str, key: str, comparator: Comparator, convert: Callable[[Decimal], Any] = _same
) -> Predicate:
    """A comparator on the context attribute ``key``."""
    get = attrgetter(key)
    test, miss = comparator_test(comparator, convert, get)
    return Predicate(test, get, lambda v: f"{label} {key} {miss(v)}")


def integral(bound: Decimal) -> int | Decimal:
    """Integers compare faster with integers; a fractional bound stays exact."""
    return int(bound) if bound == bound.to_integral_value() else bound


def member(label: str, key: str, attribute: str, values: Iterable[str]) -> Predicate:
    """The context attribute is one of ``values``: names, or fnmatch globs (case-sensitive)."""
    shown = list(values)
    exact = frozenset(v for v in shown if not _GLOB.search(v))
    globs = [v for v in shown if _GLOB.search(v)]
    get = attrgetter(attribute)

    head = f"{label} {key}" if key else label

    def describe(value: Any) -> str:
        return f"{head} {value!r} not in {shown}"

    if not globs:
        return Predicate(lambda ctx: get(ctx) in exact, get, describe)
    match = re.compile("|".join(fnmatch.translate(g) for g in globs)).match
    seen: dict[str, bool] = {}  # matching a glob is slower than remembering its answer

    def test(ctx: RuleContext) -> bool:
        value = get(ctx)
        result = seen.get(value)
        if result is None:
            result = value in exact or match(value) is not None
            if len(seen) < MEMO_SIZE:
                seen[value] = result
        return result

    return Predicate(test, get, describe)
