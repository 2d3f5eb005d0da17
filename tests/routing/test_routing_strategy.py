"""``thrifty.routing.strategy``: strategy names and quality requirements."""

from __future__ import annotations

from decimal import Decimal

import pytest

from thrifty.errors import InvalidInput
from thrifty.routing.strategy import QUALITY_LEVELS, Strategy, parse_quality_requirement


def test_strategy_values() -> None:
    assert [s.value for s in Strategy] == [
        "cheapest",
        "fastest",
        "balanced",
        "quality-first",
        "cost-aware",
    ]


def test_quality_levels() -> None:
    assert dict(QUALITY_LEVELS) == {"low": 0.85, "medium": 0.95, "high": 0.99}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("low", 0.85),
        ("medium", 0.95),
        (" High ", 0.99),
        (1, 1.0),
        (0.5, 0.5),
        (Decimal("0.97"), 0.97),
        ("0.9", 0.9),
        ("1", 1.0),
    ],
)
def test_accepted(value: object, expected: float) -> None:
    assert parse_quality_requirement(value, field="quality") == expected


@pytest.mark.parametrize(
    "value", ["hgih", "", 0, -0.1, 1.01, "1.5", True, False, None, float("nan"), "inf", [0.9]]
)
def test_refused_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_quality_requirement(value, field="body.quality")
    assert caught.value.field == "body.quality"
    assert caught.value.message.startswith("body.quality must be low, medium or high")


def test_a_misspelt_level_gets_a_suggestion() -> None:
    with pytest.raises(InvalidInput, match=r"got 'meduim' \(did you mean 'medium'\?\)"):
        parse_quality_requirement("meduim", field="q")
