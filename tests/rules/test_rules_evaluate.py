"""Actions, the order of rules, the per-field merge, deny, disabled rules, the trace and JSON."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from rule_builders import BASE, context, rule

from thrifty.routing.strategy import Strategy
from thrifty.rules import EMPTY_RULES, Directive, RuleContext, RuleSet, RuleTrace

ALWAYS: list[dict[str, Any]] = []
NEVER = {"type": "priority", "in": ["critical"]}


def _directive(*rules: dict[str, Any], ctx: RuleContext = BASE) -> Directive:
    return RuleSet.parse(list(rules)).evaluate(ctx)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            {
                "type": "select-model",
                "strategy": "cost-aware",
                "candidates": ["gpt-4o", "auto"],
                "quality_requirement": "high",
                "cost_limit": Decimal("0.50"),
                "budget_scope": "team",
                "fallback_chain": False,
            },
            {
                "strategy": Strategy.COST_AWARE,
                "candidates": ("gpt-4o", "auto"),
                "quality_requirement": 0.99,
                "cost_limit": Decimal("0.50"),
                "budget_scope": "team",
                "fallback_chain": False,
            },
        ),
        ({"type": "select-model", "quality_requirement": 0.9}, {"quality_requirement": 0.9}),
        ({"type": "select-model", "quality_requirement": "0.5"}, {"quality_requirement": 0.5}),
        ({"type": "select-model", "cost_limit": 0}, {"cost_limit": Decimal(0)}),
        ({"type": "select-model", "strategy": "quality-first"}, {"strategy": "quality-first"}),
        ({"type": "route-to", "model": "claude-haiku-4-5"}, {"route_to": "claude-haiku-4-5"}),
        ({"type": "deny"}, {"deny": "denied by rule r", "denied_by": "r"}),
        ({"type": "deny", "message": "no batch jobs"}, {"deny": "no batch jobs"}),
        ({"type": "set-max-tokens", "max_tokens": 256}, {"max_tokens": 256}),
        ({"type": "require-approval"}, {"require_approval": "approval required by rule r"}),
        (
            {"type": "require-approval", "message": "ask finance"},
            {"require_approval": "ask finance"},
        ),
        ({"type": "tag", "tags": ["cheap", "night"]}, {"tags": ("cheap", "night")}),
        ({"type": "tag", "tags": "cheap"}, {"tags": ("cheap",)}),
    ],
)
def test_each_action_sets_its_fields(action: dict[str, Any], expected: dict[str, Any]) -> None:
    directive = _directive(rule(then=[action]))
    assert directive.matched == ("r",)
    for field, value in expected.items():
        assert getattr(directive, field) == value, field
    assert directive.trace[0].applied == (action["type"],)


def test_a_directive_without_rules_says_nothing() -> None:
    directive = EMPTY_RULES.evaluate(BASE)
    assert directive == Directive()
    assert directive.fallback_chain is True
    assert len(EMPTY_RULES) == 0


def test_higher_priority_runs_first_and_ties_keep_file_order() -> None:
    rules = RuleSet.parse(
        [
            rule(name="low", priority=-5),
            rule(name="first-tie", priority=10),
            rule(name="high", priority=100),
            rule(name="second-tie", priority=10),
            rule(name="default"),
        ]
    )
    order = ["high", "first-tie", "second-tie", "default", "low"]
    assert [r.name for r in rules.rules] == order
    assert [t.rule for t in rules.evaluate(BASE).trace] == order
    assert rules.evaluate(BASE).matched == tuple(order)


def test_each_field_comes_from_the_highest_priority_rule_that_sets_it() -> None:
    directive = _directive(
        rule(
            name="budget-guard",
            priority=10,
            then=[
                {"type": "select-model", "strategy": "cheapest", "budget_scope": "team"},
                {"type": "tag", "tags": ["guarded", "shared"]},
            ],
        ),
        rule(
            name="quality",
            priority=50,
            then=[{"type": "select-model", "strategy": "quality-first", "cost_limit": "1"}],
        ),
        rule(
            name="late",
            then=[
                {"type": "select-model", "strategy": "fastest", "cost_limit": "0.01"},
                {"type": "set-max-tokens", "max_tokens": 100},
                {"type": "tag", "tags": ["shared", "late"]},
            ],
        ),
    )
    assert directive.matched == ("quality", "budget-guard", "late")
    assert directive.strategy is Strategy.QUALITY_FIRST
    assert directive.cost_limit == Decimal("1")
    assert directive.budget_scope == "team"
    assert directive.max_tokens == 100
    assert directive.tags == ("guarded", "shared", "late")  # accumulated, once each
    applied = {t.rule: t.applied for t in directive.trace}
    assert applied == {
        "quality": ("select-model",),
        "budget-guard": ("select-model", "tag"),
        "late": ("set-max-tokens", "tag"),  # its strategy and cost limit were already set
    }


def test_a_rule_that_sets_nothing_new_applies_nothing() -> None:
    directive = _directive(
        rule(name="a", priority=1, then=[{"type": "route-to", "model": "gpt-4o"}]),
        rule(name="b", then=[{"type": "route-to", "model": "gpt-4o-mini"}]),
    )
    assert directive.route_to == "gpt-4o"
    assert [t.applied for t in directive.trace] == [("route-to",), ()]
    assert directive.matched == ("a", "b")


def test_deny_stops_evaluation_at_once() -> None:
    directive = _directive(
        rule(name="route", priority=30, then=[{"type": "route-to", "model": "gpt-4o"}]),
        rule(
            name="no-batch",
            priority=20,
            then=[{"type": "tag", "tags": ["refused"]}, {"type": "deny", "message": "no batch"}],
        ),
        rule(name="after", priority=10, then=[{"type": "set-max-tokens", "max_tokens": 5}]),
        rule(name="last", then=[{"type": "deny"}]),
    )
    assert directive.deny == "no batch"
    assert directive.denied_by == "no-batch"
    assert directive.route_to == "gpt-4o"
    assert directive.tags == ("refused",)
    assert directive.max_tokens is None
    assert directive.matched == ("route", "no-batch")
    assert [(t.rule, t.matched, t.failed) for t in directive.trace] == [
        ("route", True, None),
        ("no-batch", True, None),
        ("after", False, "not evaluated: denied by no-batch"),
        ("last", False, "not evaluated: denied by no-batch"),
    ]


def test_a_deny_whose_conditions_fail_does_not_stop() -> None:
    directive = _directive(
        rule(NEVER, name="deny-critical", priority=5, then=[{"type": "deny"}]),
        rule(name="route"),
    )
    assert directive.deny is None
    assert directive.matched == ("route",)


def test_disabled_rules_are_skipped_and_traced() -> None:
    directive = _directive(
        rule(name="off", priority=9, enabled=False, then=[{"type": "deny"}]),
        rule(name="on"),
    )
    assert directive.deny is None
    assert directive.trace[0] == RuleTrace("off", 9, False, "disabled", ())
    assert directive.trace[1] == RuleTrace("on", 0, True, None, ("route-to",))


def test_the_trace_describes_every_rule_each_time() -> None:
    rules = RuleSet.parse(
        [
            rule(
                {"type": "budget", "scope": "team", "percent_used": {"gte": 70}},
                name="cost-aware",
                priority=100,
            ),
            rule({"type": "tokens", "input_tokens": {"lt": 5000}}, name="small"),
        ]
    )
    for percent, tokens in [("42", 1000), ("71.5", 9000), ("42", 1000)]:
        ctx = context(budget_percent={"team": Decimal(percent)}, input_tokens=tokens)
        trace = rules.evaluate(ctx).trace
        if percent == "42":
            assert trace[0].failed == "when[0] budget team percent_used 42 not >= 70"
            assert trace[1] == RuleTrace("small", 0, True, None, ("route-to",))
        else:
            assert trace[0] == RuleTrace("cost-aware", 100, True, None, ("route-to",))
            assert trace[1].failed == "when[0] tokens input_tokens 9000 not < 5000"


def test_unhashable_metadata_is_still_described() -> None:
    rules = RuleSet.parse([rule({"type": "metadata", "key": "app", "equals": "x"})])
    for _ in range(2):
        trace = rules.evaluate(context(metadata={"app": ["x"]})).trace
        assert trace[0].failed == "when[0] metadata 'app' ['x'] not in ['x']"


def test_directive_json_uses_camel_case_and_decimal_strings() -> None:
    directive = _directive(
        rule(
            then=[
                {"type": "select-model", "cost_limit": "0.50", "quality_requirement": "low"},
                {"type": "tag", "tags": ["t"]},
            ]
        )
    )
    data = directive.json()
    assert json.loads(json.dumps(data)) == data
    assert data == {
        "matched": ["r"],
        "strategy": None,
        "candidates": None,
        "qualityRequirement": 0.85,
        "costLimit": "0.50",
        "budgetScope": None,
        "fallbackChain": True,
        "routeTo": None,
        "deny": None,
        "deniedBy": None,
        "maxTokens": None,
        "requireApproval": None,
        "tags": ["t"],
        "trace": [
            {
                "rule": "r",
                "priority": 0,
                "matched": True,
                "failed": None,
                "applied": ["select-model", "tag"],
            }
        ],
    }


FULL_RULES: list[dict[str, Any]] = [
    {
        "name": "night-batch",
        "priority": 10,
        "description": "batch jobs at night go cheap",
        "when": [
            {"type": "request", "path": ["/v1/chat/completions", "/v1/messages"], "model": "auto"},
            {"type": "principal", "team": "eng", "org": ["acme"]},
            {"type": "tags", "any": ["batch"], "none": ["vip"]},
            {"type": "metadata", "key": "share", "equals": [0.25, "x", 3, True]},
            {"type": "metadata", "key": "app", "exists": False},
            {"type": "task", "task_type": ["code"], "complexity": {"lt": 0.8}},
            {"type": "tokens", "input_tokens": {"gte": 10, "lt": 1e5}},
            {"type": "cost", "estimated_cost": {"lte": "0.125"}},
            {"type": "budget", "scope": "any", "percent_used": {"gt": 50.5}},
            {"type": "priority", "in": ["normal", "non-essential"]},
            {
                "type": "time",
                "between": ["18:00", "8:00"],
                "days": ["mon"],
                "timezone": "Asia/Tokyo",
            },
            {"type": "any", "of": [{"type": "not", "condition": {"type": "tags", "all": ["x"]}}]},
        ],
        "then": [
            {
                "type": "select-model",
                "strategy": "cheapest",
                "candidates": ["gpt-4o-mini"],
                "quality_requirement": 0.9,
                "cost_limit": Decimal("0.50"),
                "budget_scope": "team",
                "fallback_chain": True,
            },
            {"type": "set-max-tokens", "max_tokens": 512},
            {"type": "require-approval", "message": "big"},
            {"type": "tag", "tags": ["night"]},
        ],
    },
    {"name": "off", "enabled": False, "then": [{"type": "deny", "message": "never"}]},
    {"name": "pin", "priority": 20, "then": [{"type": "route-to", "model": "gpt-4o"}]},
]


def test_json_round_trips_through_parse() -> None:
    rules = RuleSet.parse(FULL_RULES)
    data = rules.json()
    assert json.loads(json.dumps(data)) == data  # plain JSON data
    again = RuleSet.parse(json.loads(json.dumps(data)))
    assert again.json() == data
    assert again.rules == rules.rules
    assert [r["name"] for r in data] == ["night-batch", "off", "pin"]  # the original order
    first = data[0]
    assert first["then"][0]["cost_limit"] == "0.50"
    assert first["then"][0]["quality_requirement"] == 0.9
    assert first["when"][6]["input_tokens"] == {"gte": 10, "lt": 100000}
    assert first["when"][9] == {"type": "priority", "in": ["normal", "non-essential"]}
    assert first["when"][10]["between"] == ["18:00", "08:00"]


def test_quality_level_names_round_trip_as_names() -> None:
    data = RuleSet.parse([rule(then=[{"type": "select-model", "quality_requirement": "High"}])])
    assert data.json()[0]["then"][0]["quality_requirement"] == "high"


def test_model_references() -> None:
    assert RuleSet.parse(FULL_RULES).model_references() == {"gpt-4o-mini", "gpt-4o"}
    assert EMPTY_RULES.model_references() == set()


def test_context_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        context(now=datetime(2026, 3, 4, 12, 0))  # noqa: DTZ001
