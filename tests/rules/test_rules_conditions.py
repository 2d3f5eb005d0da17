"""Each condition type, matching and not matching, and the description of a miss."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from rule_builders import BASE, failure, holds

from thrifty.errors import ConfigError
from thrifty.rules import RuleSet


@pytest.mark.parametrize(
    ("condition", "changes", "expected"),
    [
        ({"path": "/v1/chat/completions"}, {}, True),
        ({"path": "/v1/messages"}, {}, False),
        ({"path": ["/v1/messages", "/v1/chat/completions"]}, {}, True),
        ({"path": "/v1/*"}, {}, True),
        ({"path": "/v1/*"}, {"path": "/api/v1/models/select"}, False),
        ({"path": "/v1/chat/*"}, {"path": "/v1/messages"}, False),
        ({"model": "auto"}, {}, True),
        ({"model": "gpt-4*"}, {"requested_model": "gpt-4o-mini"}, True),
        ({"model": "gpt-4*"}, {"requested_model": "GPT-4o"}, False),  # case-sensitive
        ({"model": ["claude-*", "gpt-4?"]}, {"requested_model": "gpt-4o"}, True),
        ({"path": "/v1/*", "model": "auto"}, {"requested_model": "gpt-4o"}, False),
    ],
)
def test_request(condition: dict[str, Any], changes: dict[str, Any], expected: bool) -> None:
    assert holds({"type": "request", **condition}, **changes) is expected


def test_request_miss_is_described() -> None:
    found = failure({"type": "request", "path": "/v1/messages"})
    assert found == "when[0] request path '/v1/chat/completions' not in ['/v1/messages']"


@pytest.mark.parametrize(
    ("condition", "changes", "expected"),
    [
        ({"team": "eng"}, {}, True),
        ({"team": "ops"}, {}, False),
        ({"team": ["ops", "eng"]}, {}, True),
        ({"org": "acme", "user": "ana"}, {}, True),
        ({"org": "acme", "user": "bob"}, {}, False),
        ({"key": "key-1"}, {}, True),
        ({"team": "eng"}, {"team_id": None}, False),
    ],
)
def test_principal(condition: dict[str, Any], changes: dict[str, Any], expected: bool) -> None:
    assert holds({"type": "principal", **condition}, **changes) is expected


@pytest.mark.parametrize(
    ("condition", "tags", "expected"),
    [
        ({"any": ["batch", "nightly"]}, ("batch",), True),
        ({"any": ["nightly"]}, ("batch",), False),
        ({"all": ["batch", "eu"]}, ("eu", "batch", "x"), True),
        ({"all": ["batch", "eu"]}, ("batch",), False),
        ({"none": ["vip"]}, ("batch",), True),
        ({"none": ["vip"]}, ("batch", "vip"), False),
        ({"any": ["batch"], "none": ["vip"]}, ("batch", "vip"), False),
        ({"any": ["batch"]}, (), False),
    ],
)
def test_tags(condition: dict[str, Any], tags: tuple[str, ...], expected: bool) -> None:
    assert holds({"type": "tags", **condition}, tags=tags) is expected


def test_tags_miss_is_described() -> None:
    assert failure({"type": "tags", "all": ["eu", "batch"]}) == "when[0] tags ['eu'] missing"


@pytest.mark.parametrize(
    ("condition", "metadata", "expected"),
    [
        ({"key": "app", "equals": "search"}, {"app": "search"}, True),
        ({"key": "app", "equals": ["chat", "search"]}, {"app": "search"}, True),
        ({"key": "app", "equals": "chat"}, {"app": "search"}, False),
        ({"key": "app", "equals": "chat"}, {}, False),
        ({"key": "tier", "equals": 2}, {"tier": 2}, True),
        ({"key": "tier", "equals": "2"}, {"tier": 2}, False),
        ({"key": "share", "equals": Decimal("0.1")}, {"share": 0.1}, True),  # JSON float
        ({"key": "share", "equals": "0.1"}, {"share": 0.1}, False),
        ({"key": "on", "equals": True}, {"on": True}, True),
        ({"key": "on", "equals": 1}, {"on": True}, False),
        ({"key": "on", "equals": True}, {"on": 1}, False),
        ({"key": "list", "equals": "a"}, {"list": ["a"]}, False),  # unhashable: never equal
        ({"key": "app", "exists": True}, {"app": None}, True),
        ({"key": "app", "exists": True}, {}, False),
        ({"key": "app", "exists": False}, {}, True),
    ],
)
def test_metadata(condition: dict[str, Any], metadata: dict[str, Any], expected: bool) -> None:
    assert holds({"type": "metadata", **condition}, metadata=metadata) is expected


@pytest.mark.parametrize(
    ("condition", "changes", "expected"),
    [
        ({"task_type": "code"}, {}, True),
        ({"task_type": ["math", "code"]}, {}, True),
        ({"task_type": "chat"}, {}, False),
        ({"task_type": "code", "complexity": {"gte": 0.7}}, {"complexity": 0.7}, True),
        ({"task_type": "code", "complexity": {"gt": 0.7}}, {"complexity": 0.7}, False),
        ({"task_type": "code", "complexity": {"lt": 0.3}}, {"complexity": 0.29999}, True),
    ],
)
def test_task(condition: dict[str, Any], changes: dict[str, Any], expected: bool) -> None:
    assert holds({"type": "task", **condition}, **changes) is expected


@pytest.mark.parametrize(
    ("comparator", "expected"),
    [
        ({"gt": 1000}, False),
        ({"gt": 999}, True),
        ({"gte": 1000}, True),
        ({"gte": 1001}, False),
        ({"lt": 1000}, False),
        ({"lt": 1001}, True),
        ({"lte": 1000}, True),
        ({"lte": 999}, False),
        ({"eq": 1000}, True),
        ({"eq": 1001}, False),
        ({"gt": Decimal("999.5")}, True),
        ({"lt": "1000.5"}, True),
        ({"gte": 500, "lt": 1000}, False),
        ({"gte": 500, "lte": 1000}, True),
        ({"gt": 1, "gte": 2, "lt": 5000, "lte": 4000}, True),
    ],
)
def test_tokens_comparator_boundaries(comparator: dict[str, Any], expected: bool) -> None:
    assert holds({"type": "tokens", "input_tokens": comparator}, input_tokens=1000) is expected


@pytest.mark.parametrize(
    ("comparator", "expected"),
    [
        ({"gte": Decimal("0.0042")}, True),
        ({"gt": Decimal("0.0042")}, False),
        ({"gt": 0.0041}, True),  # a JSON float is read from its text, exactly
        ({"lte": "0.0042"}, True),
        ({"lt": "0.0042"}, False),
        ({"eq": "0.00420"}, True),
    ],
)
def test_cost_is_compared_exactly(comparator: dict[str, Any], expected: bool) -> None:
    condition = {"type": "cost", "estimated_cost": comparator}
    assert holds(condition, estimated_cost=Decimal("0.0042")) is expected


@pytest.mark.parametrize(
    ("scope", "comparator", "expected"),
    [
        ("team", {"gte": 42}, True),
        ("team", {"gt": 42}, False),
        ("organization", {"lt": 10}, False),
        ("any", {"gte": 42}, True),  # the highest of all scope types
        ("any", {"gt": 42}, False),
        ("user", {"gte": 0}, False),  # no user budget
    ],
)
def test_budget(scope: str, comparator: dict[str, Any], expected: bool) -> None:
    assert holds({"type": "budget", "scope": scope, "percent_used": comparator}) is expected


def test_budget_miss_is_described() -> None:
    found = failure({"type": "budget", "scope": "team", "percent_used": {"gte": 70}})
    assert found == "when[0] budget team percent_used 42 not >= 70"
    found = failure({"type": "budget", "scope": "user", "percent_used": {"gte": 70}})
    assert found == "when[0] budget user no user budget"
    assert not holds(
        {"type": "budget", "scope": "any", "percent_used": {"gte": 0}}, budget_percent={}
    )


@pytest.mark.parametrize(
    ("allowed", "priority", "expected"),
    [
        (["critical"], "critical", True),
        (["critical", "normal"], "normal", True),
        (["non-essential"], "normal", False),
    ],
)
def test_priority(allowed: list[str], priority: str, expected: bool) -> None:
    assert holds({"type": "priority", "in": allowed}, priority=priority) is expected


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("2026-03-04 23:00", True),
        ("2026-03-05 03:00", True),
        ("2026-03-04 18:00", True),  # the start is inclusive
        ("2026-03-04 17:59", False),
        ("2026-03-05 07:59", True),
        ("2026-03-05 08:00", False),  # the end is exclusive
        ("2026-03-04 12:00", False),
    ],
)
def test_time_window_across_midnight(utc: str, expected: bool) -> None:
    assert holds({"type": "time", "between": ["18:00", "08:00"]}, now=_at(utc)) is expected


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("2026-01-15 16:59", False),  # 17:59 in Paris (UTC+1 in winter)
        ("2026-01-15 17:00", True),  # 18:00 in Paris
        ("2026-07-15 16:00", True),  # 18:00 in Paris (UTC+2 in summer)
        ("2026-07-15 15:59", False),
        ("2026-07-16 05:59", True),  # 07:59 in Paris
        ("2026-07-16 06:00", False),
    ],
)
def test_time_window_in_a_time_zone(utc: str, expected: bool) -> None:
    condition = {"type": "time", "between": ["18:00", "08:00"], "timezone": "Europe/Paris"}
    assert holds(condition, now=_at(utc)) is expected


def test_time_zone_converts_any_aware_now() -> None:
    from zoneinfo import ZoneInfo

    now = datetime(2026, 3, 4, 9, 30, tzinfo=ZoneInfo("America/New_York"))  # 14:30 UTC
    assert holds({"type": "time", "between": ["14:00", "15:00"]}, now=now)
    assert not holds({"type": "time", "between": ["09:00", "10:00"]}, now=now)


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("2026-03-06 19:00", True),  # Friday evening
        ("2026-03-07 03:00", True),  # Saturday early: still Friday's night
        ("2026-03-06 03:00", False),  # Friday early: Thursday's night
        ("2026-03-07 19:00", False),  # Saturday evening
    ],
)
def test_time_days_name_the_day_the_window_opens(utc: str, expected: bool) -> None:
    condition = {"type": "time", "between": ["18:00", "08:00"], "days": ["fri"]}
    assert holds(condition, now=_at(utc)) is expected


def test_time_window_within_a_day_on_weekdays() -> None:
    condition = {
        "type": "time",
        "between": ["09:00", "17:30"],
        "days": ["mon", "tue", "wed", "thu", "fri"],
    }
    assert holds(condition, now=_at("2026-03-04 17:29"))  # Wednesday
    assert not holds(condition, now=_at("2026-03-04 17:30"))
    assert not holds(condition, now=_at("2026-03-07 10:00"))  # Saturday
    assert failure(condition, now=_at("2026-03-07 10:00")) == (
        "when[0] time sat 10:00 UTC not in 09:00-17:30 on mon,tue,wed,thu,fri"
    )


def test_any_holds_when_one_alternative_holds() -> None:
    either = {
        "type": "any",
        "of": [
            {"type": "principal", "team": "ops"},
            {"type": "tags", "any": ["batch"], "none": ["vip"]},
        ],
    }
    assert holds(either)
    assert not holds(either, tags=("batch", "vip"))
    assert failure(either, tags=("batch", "vip")) == (
        "when[0] any: none held (when[0].of[0] principal team 'eng' not in ['ops']; "
        "when[0].of[1] tags ['vip'] present)"
    )


def test_not_inverts_its_condition() -> None:
    inverted = {"type": "not", "condition": {"type": "priority", "in": ["critical"]}}
    assert holds(inverted)
    assert not holds(inverted, priority="critical")
    assert failure(inverted, priority="critical") == "when[0] not: the condition held"


def test_all_conditions_must_hold_and_the_first_miss_is_traced() -> None:
    rules = RuleSet.parse(
        [
            {
                "name": "r",
                "when": [
                    {"type": "request", "path": "/v1/*"},
                    {"type": "budget", "scope": "team", "percent_used": {"gte": 70}},
                    {"type": "priority", "in": ["critical"]},
                ],
                "then": [{"type": "deny"}],
            }
        ]
    )
    directive = rules.evaluate(BASE)
    assert directive.matched == ()
    assert directive.trace[0].failed == "when[1] budget team percent_used 42 not >= 70"


def test_no_conditions_always_hold() -> None:
    rules = RuleSet.parse([{"name": "r", "when": None, "then": [{"type": "tag", "tags": "x"}]}])
    assert rules.evaluate(BASE).tags == ("x",)


@pytest.mark.parametrize(
    ("comparator", "message"),
    [
        ({}, "needs at least one of gt, gte, lt, lte, eq"),
        ({"gte": 90, "lt": 10}, "no number satisfies every bound"),
        ({"gt": 10, "lte": 10}, "no number satisfies every bound"),
        ({"eq": 5, "gt": 5}, "no number satisfies every bound"),
        ({"gte": "lots"}, "must be a finite number; got 'lots'"),
        ({"gte": True}, "must be a finite number; got True"),
        ({"gte": "NaN"}, "must be a finite number"),
    ],
)
def test_bad_comparators_are_refused(comparator: dict[str, Any], message: str) -> None:
    condition = {"type": "tokens", "input_tokens": comparator}
    with pytest.raises(ConfigError, match=message):
        RuleSet.parse([{"name": "r", "when": [condition], "then": [{"type": "deny"}]}])
