"""A parsed, compiled set of steering rules, and its evaluation into a :class:`Directive`.

Rules run in order of ``priority`` (highest first; ties keep their order in the file).
Disabled rules are skipped. For each matching rule, every field its actions set is taken only
if no earlier matching rule set it, so the higher priority wins per field; ``tag`` tags
accumulate; a ``deny`` stops evaluation at once. docs/rules.md is the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from thrifty.routing.strategy import QUALITY_LEVELS, Strategy
from thrifty.rules.conditions import compile_conditions
from thrifty.rules.context import RuleContext
from thrifty.rules.predicates import MEMO_SIZE, Predicate, Test
from thrifty.rules.schema import (
    DenyAction,
    RequireApprovalAction,
    RouteToAction,
    Rule,
    SelectModelAction,
    SetMaxTokensAction,
    TagAction,
)
from thrifty.rules.validation import validate_rules

_SELECT_FIELDS = (
    "strategy",
    "candidates",
    "quality_requirement",
    "cost_limit",
    "budget_scope",
    "fallback_chain",
)


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """How one rule fared: ``failed`` describes the first condition that did not hold;
    ``applied`` lists the action types that set at least one field (or added a tag)."""

    rule: str
    priority: int
    matched: bool
    failed: str | None
    applied: tuple[str, ...]

    def json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "priority": self.priority,
            "matched": self.matched,
            "failed": self.failed,
            "applied": list(self.applied),
        }


@dataclass(frozen=True, slots=True)
class Directive:
    """What the rules ask of model selection for one request (``None``: no rule said)."""

    matched: tuple[str, ...] = ()
    strategy: Strategy | None = None
    candidates: tuple[str, ...] | None = None
    quality_requirement: float | None = None
    cost_limit: Decimal | None = None
    budget_scope: str | None = None
    fallback_chain: bool = True
    route_to: str | None = None
    deny: str | None = None
    denied_by: str | None = None
    max_tokens: int | None = None
    require_approval: str | None = None
    tags: tuple[str, ...] = ()
    trace: tuple[RuleTrace, ...] = ()

    def json(self) -> dict[str, Any]:
        return {
            "matched": list(self.matched),
            "strategy": None if self.strategy is None else self.strategy.value,
            "candidates": None if self.candidates is None else list(self.candidates),
            "qualityRequirement": self.quality_requirement,
            "costLimit": None if self.cost_limit is None else str(self.cost_limit),
            "budgetScope": self.budget_scope,
            "fallbackChain": self.fallback_chain,
            "routeTo": self.route_to,
            "deny": self.deny,
            "deniedBy": self.denied_by,
            "maxTokens": self.max_tokens,
            "requireApproval": self.require_approval,
            "tags": list(self.tags),
            "trace": [entry.json() for entry in self.trace],
        }


NO_DIRECTIVE = Directive()

# One setting of a directive field by an action: (field, value, the action's bit).
_Setting = tuple[str, Any, int]


@dataclass(slots=True)
class _CompiledRule:
    """A rule ready to run. Traces are immutable and making one costs more than testing a
    rule, so the trace of an outcome is made once: a failure's by the value that failed."""

    name: str
    priority: int
    predicates: tuple[tuple[Test, Callable[[RuleContext], RuleTrace]], ...]
    settings: tuple[_Setting, ...]
    action_types: tuple[str, ...]
    denies: bool
    disabled: RuleTrace | None
    successes: dict[int, RuleTrace] = field(default_factory=dict)

    def success(self, applied: int) -> RuleTrace:
        types = tuple(t for i, t in enumerate(self.action_types) if applied & (1 << i))
        trace = self.successes[applied] = RuleTrace(self.name, self.priority, True, None, types)
        return trace


def _failure(name: str, priority: int, predicate: Predicate) -> Callable[[RuleContext], RuleTrace]:
    key, describe = predicate.key, predicate.describe
    seen: dict[Any, RuleTrace] = {}

    def fail(ctx: RuleContext) -> RuleTrace:
        value = key(ctx)
        try:
            trace = seen.get(value)
        except TypeError:  # an unhashable value: describe it every time
            return RuleTrace(name, priority, False, describe(value), ())
        if trace is None:
            trace = RuleTrace(name, priority, False, describe(value), ())
            if len(seen) < MEMO_SIZE:
                seen[value] = trace
        return trace

    return fail


def _settings(rule: Rule) -> tuple[_Setting, ...]:
    settings: list[_Setting] = []
    for index, action in enumerate(rule.then):
        bit = 1 << index
        if isinstance(action, SelectModelAction):
            for name in _SELECT_FIELDS:
                value = getattr(action, name)
                if name == "candidates" and value is not None:
                    value = tuple(value)
                elif name == "quality_requirement" and isinstance(value, str):
                    value = QUALITY_LEVELS[value]
                if value is not None:
                    settings.append((name, value, bit))
        elif isinstance(action, RouteToAction):
            settings.append(("route_to", action.model, bit))
        elif isinstance(action, DenyAction):
            settings.append(("deny", action.message or f"denied by rule {rule.name}", bit))
        elif isinstance(action, SetMaxTokensAction):
            settings.append(("max_tokens", action.max_tokens, bit))
        elif isinstance(action, RequireApprovalAction):
            message = action.message or f"approval required by rule {rule.name}"
            settings.append(("require_approval", message, bit))
        elif isinstance(action, TagAction):
            settings.append(("tags", tuple(action.tags), bit))
    return tuple(settings)


def _compile(rule: Rule) -> _CompiledRule:
    disabled = RuleTrace(rule.name, rule.priority, False, "disabled", ())
    return _CompiledRule(
        name=rule.name,
        priority=rule.priority,
        predicates=tuple(
            (p.test, _failure(rule.name, rule.priority, p)) for p in compile_conditions(rule.when)
        ),
        settings=_settings(rule),
        action_types=tuple(action.type for action in rule.then),
        denies=any(isinstance(action, DenyAction) for action in rule.then),
        disabled=None if rule.enabled else disabled,
    )


class RuleSet:
    """Validated rules, compiled once; ``rules`` is in evaluation order."""

    __slots__ = ("_compiled", "_file_order", "rules")

    def __init__(self, rules: Sequence[Rule] = ()) -> None:
        self._file_order = tuple(rules)
        self.rules = tuple(sorted(self._file_order, key=lambda rule: -rule.priority))
        self._compiled = tuple(_compile(rule) for rule in self.rules)

    @classmethod
    def parse(
        cls,
        data: Any,
        *,
        source: str = "rules",
        locate: Callable[[tuple[str | int, ...]], int | None] | None = None,
        known_models: Collection[str] | None = None,
    ) -> RuleSet:
        """Rules from plain data (YAML or JSON); a ConfigError lists every problem.

        ``locate`` maps a key path under the rules list, e.g. ``(0, "when", 1,
        "percent_used")``, to its line. With ``known_models``, every model that ``route-to``
        or ``candidates`` names must be one of them (or ``auto``)."""
        return cls(validate_rules(data, source=source, locate=locate, known_models=known_models))

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __repr__(self) -> str:
        return f"RuleSet({[rule.name for rule in self.rules]})"

    def evaluate(self, ctx: RuleContext) -> Directive:
        values: dict[str, Any] = {}
        tags: list[str] = []
        matched: list[str] = []
        trace: list[RuleTrace] = []
        for position, rule in enumerate(self._compiled):
            if rule.disabled is not None:
                trace.append(rule.disabled)
                continue
            for check, fail in rule.predicates:
                if not check(ctx):
                    trace.append(fail(ctx))
                    break
            else:
                applied = 0
                for name, value, bit in rule.settings:
                    if name == "tags":
                        for tag in value:
                            if tag not in tags:
                                tags.append(tag)
                                applied |= bit
                    elif name not in values:
                        values[name] = value
                        applied |= bit
                matched.append(rule.name)
                trace.append(rule.successes.get(applied) or rule.success(applied))
                if rule.denies:
                    values["denied_by"] = rule.name
                    skipped = f"not evaluated: denied by {rule.name}"
                    later = self._compiled[position + 1 :]
                    trace.extend(RuleTrace(r.name, r.priority, False, skipped, ()) for r in later)
                    break
        if not trace:
            return NO_DIRECTIVE
        return Directive(matched=tuple(matched), tags=tuple(tags), trace=tuple(trace), **values)

    def model_references(self) -> set[str]:
        """Every model a ``route-to`` or a ``select-model`` ``candidates`` list names."""
        found: set[str] = set()
        for rule in self.rules:
            for action in rule.then:
                if isinstance(action, RouteToAction):
                    found.add(action.model)
                elif isinstance(action, SelectModelAction):
                    found.update(action.candidates or ())
        return found

    def json(self) -> list[dict[str, Any]]:
        """The rules as plain JSON data, in their original order; ``parse`` reads it back."""
        return [
            rule.model_dump(mode="json", by_alias=True, exclude_none=True)
            for rule in self._file_order
        ]


EMPTY_RULES = RuleSet()
