"""The steering-rule schema: a rule, its conditions (``when``) and its actions (``then``).

Every mapping refuses unknown keys; a condition or an action is chosen by its ``type``. The
value types (numbers, names, times, comparators) are in :mod:`thrifty.rules.values`; the
reference of every key is docs/rules.md.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from thrifty.routing.strategy import Strategy
from thrifty.routing.tasks import TaskType
from thrifty.rules.values import (
    DAYS,
    PRIORITIES,
    ClockTime,
    Comparator,
    Id,
    Ids,
    ModelId,
    Money,
    Patterns,
    Scalars,
    Scope,
    Strict,
    Text,
    choice,
    listed,
    quality,
    zone,
)

AUTO = "auto"
"""The model name that leaves the choice to Thrifty; rules may name it like a model."""


class RequestCondition(Strict):
    type: Literal["request"]
    path: Patterns | None = None
    model: Patterns | None = None
    needs_one_of = ("path", "model")


class PrincipalCondition(Strict):
    type: Literal["principal"]
    org: Ids | None = None
    team: Ids | None = None
    user: Ids | None = None
    key: Ids | None = None
    needs_one_of = ("org", "team", "user", "key")


class TagsCondition(Strict):
    type: Literal["tags"]
    any: Ids | None = None
    all: Ids | None = None
    none: Ids | None = None
    needs_one_of = ("any", "all", "none")


class MetadataCondition(Strict):
    type: Literal["metadata"]
    key: Id
    equals: Scalars | None = None
    exists: StrictBool | None = None
    needs_one_of = ("equals", "exists")

    @model_validator(mode="after")
    def _one_test(self) -> Self:
        if self.equals is not None and self.exists is not None:
            raise ValueError("give either equals or exists, not both")
        return self


class TaskCondition(Strict):
    type: Literal["task"]
    task_type: Annotated[
        tuple[Annotated[TaskType, choice("task type", [t.value for t in TaskType])], ...],
        BeforeValidator(listed),
        Field(min_length=1),
    ]
    complexity: Comparator | None = None


class TokensCondition(Strict):
    type: Literal["tokens"]
    input_tokens: Comparator


class CostCondition(Strict):
    type: Literal["cost"]
    estimated_cost: Comparator


class BudgetCondition(Strict):
    type: Literal["budget"]
    scope: Scope
    percent_used: Comparator


class PriorityCondition(Strict):
    type: Literal["priority"]
    in_: Annotated[
        tuple[Annotated[str, choice("priority", PRIORITIES)], ...],
        BeforeValidator(listed),
        Field(min_length=1),
    ] = Field(alias="in")


class TimeCondition(Strict):
    type: Literal["time"]
    between: tuple[ClockTime, ClockTime]
    days: (
        Annotated[
            tuple[Annotated[str, choice("day", DAYS)], ...],
            BeforeValidator(listed),
            Field(min_length=1),
        ]
        | None
    ) = None
    timezone: Annotated[StrictStr, AfterValidator(zone)] = "UTC"

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.between[0] == self.between[1]:
            raise ValueError("between needs two different times (the end is exclusive)")
        return self


class AnyCondition(Strict):
    type: Literal["any"]
    of: Annotated[tuple[Condition, ...], Field(min_length=1, max_length=100)]


class NotCondition(Strict):
    type: Literal["not"]
    condition: Condition


Condition = Annotated[
    RequestCondition
    | PrincipalCondition
    | TagsCondition
    | MetadataCondition
    | TaskCondition
    | TokensCondition
    | CostCondition
    | BudgetCondition
    | PriorityCondition
    | TimeCondition
    | AnyCondition
    | NotCondition,
    Field(discriminator="type"),
]
AnyCondition.model_rebuild()
NotCondition.model_rebuild()


class SelectModelAction(Strict):
    type: Literal["select-model"]
    strategy: Annotated[Strategy, choice("strategy", [s.value for s in Strategy])] | None = None
    candidates: (
        Annotated[tuple[ModelId, ...], BeforeValidator(listed), Field(min_length=1)] | None
    ) = None
    quality_requirement: Annotated[str | float, BeforeValidator(quality)] | None = None
    cost_limit: Money | None = None
    budget_scope: Scope | None = None
    fallback_chain: StrictBool | None = None
    needs_one_of = (
        "strategy",
        "candidates",
        "quality_requirement",
        "cost_limit",
        "budget_scope",
        "fallback_chain",
    )


class RouteToAction(Strict):
    type: Literal["route-to"]
    model: ModelId


class DenyAction(Strict):
    type: Literal["deny"]
    message: Text | None = None


class SetMaxTokensAction(Strict):
    type: Literal["set-max-tokens"]
    max_tokens: Annotated[StrictInt, Field(ge=1, le=100_000_000)]


class RequireApprovalAction(Strict):
    type: Literal["require-approval"]
    message: Text | None = None


class TagAction(Strict):
    type: Literal["tag"]
    tags: Ids


Action = Annotated[
    SelectModelAction
    | RouteToAction
    | DenyAction
    | SetMaxTokensAction
    | RequireApprovalAction
    | TagAction,
    Field(discriminator="type"),
]


def _none_is_empty(value: object) -> object:
    return () if value is None else value


class Rule(Strict):
    name: Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.-]*$")]
    priority: Annotated[StrictInt, Field(ge=-1_000_000_000, le=1_000_000_000)] = 0
    enabled: StrictBool = True
    description: Text | None = None
    when: Annotated[
        tuple[Condition, ...], BeforeValidator(_none_is_empty), Field(max_length=100)
    ] = ()
    then: Annotated[tuple[Action, ...], Field(min_length=1, max_length=20)]


def _tag(model: type[BaseModel]) -> str:
    return str(get_args(model.model_fields["type"].annotation)[0])


CONDITIONS: dict[str, type[Strict]] = {_tag(m): m for m in get_args(get_args(Condition)[0])}
ACTIONS: dict[str, type[Strict]] = {_tag(m): m for m in get_args(get_args(Action)[0])}
