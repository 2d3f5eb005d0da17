from __future__ import annotations

from decimal import Decimal

import pytest
from budget_builders import USD, spec
from hypothesis import given
from hypothesis import strategies as st

from thrifty.budgets.thresholds import (
    DEFAULT_REQUEST_LIMITS,
    DEFAULT_THRESHOLDS,
    Action,
    Threshold,
    load_defaults,
    parse_thresholds,
    percent_used,
    thresholds_crossed,
)
from thrifty.errors import ConfigError, InvalidInput


def test_defaults_follow_the_graduated_table() -> None:
    table = {t.percent: t.actions for t in DEFAULT_THRESHOLDS}
    assert table == {
        50: (Action.NOTIFY,),
        70: (Action.NOTIFY, Action.PREFER_CHEAPER),
        85: (Action.NOTIFY, Action.RESTRICT_MODELS, Action.REQUIRE_APPROVAL),
        95: (Action.NOTIFY, Action.LIMIT_REQUEST_COST, Action.BLOCK_NON_ESSENTIAL),
        100: (Action.NOTIFY, Action.BLOCK),
    }
    assert DEFAULT_REQUEST_LIMITS.approval_above_share == Decimal("0.10")
    assert DEFAULT_REQUEST_LIMITS.max_cost_share == Decimal("0.05")


def test_parse_thresholds_sorts_and_normalizes() -> None:
    parsed = parse_thresholds(
        [
            {"percent": "90.5", "actions": ["Block"]},
            {"percent": 12.5, "actions": ["notify", "prefer-cheaper"]},
        ]
    )
    assert parsed == (
        Threshold(Decimal("12.5"), (Action.NOTIFY, Action.PREFER_CHEAPER)),
        Threshold(Decimal("90.5"), (Action.BLOCK,)),
    )


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ([], "thresholds", "non-empty"),
        ("50", "thresholds", "non-empty list"),
        ([50], "thresholds[0]", "mapping"),
        ([{"percent": 50}], "thresholds[0]", "needs both"),
        ([{"percent": 50, "actions": ["notify"], "extra": 1}], "thresholds[0]", "unknown keys"),
        ([{"percent": 0, "actions": ["notify"]}], "thresholds[0].percent", "greater than 0"),
        ([{"percent": 101, "actions": ["notify"]}], "thresholds[0].percent", "at most 100"),
        ([{"percent": "NaN", "actions": ["notify"]}], "thresholds[0].percent", "greater than 0"),
        ([{"percent": "abc", "actions": ["notify"]}], "thresholds[0].percent", "number"),
        ([{"percent": True, "actions": ["notify"]}], "thresholds[0].percent", "number"),
        ([{"percent": "50.00001", "actions": ["notify"]}], "thresholds[0].percent", "decimal"),
        ([{"percent": 50, "actions": []}], "thresholds[0].actions", "non-empty"),
        ([{"percent": 50, "actions": ["explode"]}], "thresholds[0].actions[0]", "unknown action"),
        ([{"percent": 50, "actions": ["block", "block"]}], "thresholds[0].actions[1]", "twice"),
        (
            [{"percent": 50, "actions": ["notify"]}, {"percent": "50.0", "actions": ["block"]}],
            "thresholds[1].percent",
            "two thresholds",
        ),
    ],
)
def test_parse_thresholds_errors_name_the_field(raw: object, field: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        parse_thresholds(raw)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "text",
    [
        "thresholds: [",
        "thresholds: []\nrequest_limits: {approval_above_share: '0.1', max_cost_share: '0.1'}",
        "thresholds: [{percent: 50, actions: [notify]}]",
        "thresholds: [{percent: 50, actions: [notify]}]\n"
        "request_limits: {approval_above_share: '2', max_cost_share: '0.1'}",
        "thresholds: [{percent: 50, actions: [notify]}]\n"
        "request_limits: {approval_above_share: 0.1, max_cost_share: '0.1'}",
    ],
)
def test_a_broken_defaults_file_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match=r"defaults\.yaml"):
        load_defaults(text, source="defaults.yaml")


def test_reached_is_exact() -> None:
    threshold = Threshold(Decimal("85"), (Action.NOTIFY,))
    assert threshold.reached(85, 100)
    assert not threshold.reached(84_999_999_999, 100 * USD)
    assert threshold.reached(1, 0)  # a zero limit has reached every threshold


def test_percent_used_rounds_down() -> None:
    assert percent_used(84_999_999_999, 100 * USD) == Decimal("84.99")
    assert percent_used(1, 3) == Decimal("33.33")
    assert percent_used(2, 3) == Decimal("66.66")
    assert percent_used(5, 0) == Decimal("100.00")


def test_thresholds_crossed_by_one_change() -> None:
    budget = spec(limit=100 * USD)
    crossed = thresholds_crossed(budget, 40 * USD, 90 * USD)
    assert [t.percent for t in crossed] == [50, 70, 85]
    assert thresholds_crossed(budget, 90 * USD, 91 * USD) == []
    assert [t.percent for t in thresholds_crossed(budget, 0, 120 * USD)] == [50, 70, 85, 95, 100]
    assert [t.percent for t in thresholds_crossed(budget, 90, 100, limit_nano=100)] == [95, 100]


threshold_lists = st.lists(
    st.decimals(min_value=Decimal("0.01"), max_value=100, places=2),
    min_size=1,
    max_size=6,
    unique=True,
).map(lambda percents: tuple(Threshold(p, (Action.NOTIFY,)) for p in sorted(percents)))


@given(
    threshold_lists,
    st.integers(min_value=0, max_value=10**15),
    st.lists(st.integers(min_value=0, max_value=10**14), max_size=30),
)
def test_each_threshold_is_reported_once_over_rising_spend(
    thresholds: tuple[Threshold, ...], limit: int, increments: list[int]
) -> None:
    budget = spec(limit=limit, thresholds=thresholds)
    used, reported = 0, []
    for increment in increments:
        reported += thresholds_crossed(budget, used, used + increment)
        used += increment
    assert len(reported) == len(set(reported))
    # Every threshold reached by the end was reported, except those reached before any spend.
    expected = [t for t in thresholds if t.reached(used, limit) and not t.reached(0, limit)]
    assert sorted(reported, key=lambda t: t.percent) == expected
