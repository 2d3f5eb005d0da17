from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from thrifty.analytics.savings import QUALITY_FIRST, REQUESTED, DecidedCall, baseline_of, savings
from thrifty.pricing.catalog import TokenUsage

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
PER_TOKEN = {"big": Decimal("0.00001"), "mid": Decimal("0.000003"), "small": Decimal("0.0000005")}
REGISTERED = set(PER_TOKEN)


def price(model: str, at: datetime, usage: TokenUsage) -> Decimal | None:
    rate = PER_TOKEN.get(model)
    return None if rate is None else rate * (usage.input_tokens + usage.output_tokens)


def call(
    requested: str, served: str, *, alternatives: Any = (), quality: float = 0.8
) -> DecidedCall:
    usage = TokenUsage(input_tokens=1000, output_tokens=500)
    cost = price(served, AT, usage)
    assert cost is not None
    return DecidedCall(requested, served, served, quality, alternatives, usage, cost, AT)


ALTERNATIVES = [
    {"model": "big", "eligible": True, "quality": 0.95},
    {"model": "huge", "eligible": False, "quality": 0.99},  # out: never the baseline
    {"model": "mid", "eligible": True, "quality": 0.9},
]


def test_a_named_model_is_its_own_baseline() -> None:
    assert baseline_of(call("big", "small"), REGISTERED) == ("big", REQUESTED)


def test_auto_takes_the_best_eligible_candidate() -> None:
    assert baseline_of(call("auto", "small", alternatives=ALTERNATIVES), REGISTERED) == (
        "big", QUALITY_FIRST,
    )  # fmt: skip
    # The winner itself when nothing eligible was better.
    weaker = [{"model": "mid", "eligible": True, "quality": 0.5}]
    assert baseline_of(call("auto", "small", alternatives=weaker), REGISTERED) == (
        "small", QUALITY_FIRST,
    )  # fmt: skip


def test_savings_are_the_baseline_minus_the_cost_exactly() -> None:
    calls = [
        call("big", "small"),  # 0.015 → 0.00075
        call("auto", "mid", alternatives=ALTERNATIVES),  # 0.015 → 0.0045
        call("mid", "mid"),  # asked for and served: saves nothing
    ]
    found = savings(calls, REGISTERED, price)
    assert found.total.requests == 3 and found.substituted == 2 and found.unpriced == 0
    assert found.total.baseline == Decimal("0.0345")
    assert found.total.actual == Decimal("0.00975")
    assert found.total.saved == Decimal("0.02475")
    assert found.by_basis[REQUESTED].saved == Decimal("0.01425")
    assert found.by_basis[QUALITY_FIRST].saved == Decimal("0.0105")
    assert found.by_pair[("mid", "mid")].saved == 0


def test_a_baseline_without_a_price_is_counted_apart() -> None:
    gone = [{"model": "retired", "eligible": True, "quality": 0.99}]
    found = savings([call("auto", "small", alternatives=gone)], REGISTERED, price)
    assert found.unpriced == 1 and found.total.requests == 0
