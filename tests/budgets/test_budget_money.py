from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thrifty.budgets.money import (
    MAX_NANO,
    MAX_USD,
    format_nano,
    format_usd,
    from_nano,
    hold_nano,
    parse_nano,
    parse_usd,
    settlement_nano,
    to_nano,
)
from thrifty.errors import InvalidInput

nanos = st.integers(min_value=-MAX_NANO, max_value=MAX_NANO)
exact_amounts = st.decimals(min_value=0, max_value=MAX_USD, places=9, allow_nan=False)
any_amounts = st.decimals(
    min_value=Decimal("-1e6"), max_value=Decimal("1e6"), allow_nan=False, allow_infinity=False
)


@given(nanos)
def test_nano_round_trips_exactly(nano: int) -> None:
    assert to_nano(from_nano(nano)) == nano
    assert to_nano(from_nano(nano), rounding="ROUND_CEILING") == nano


@given(exact_amounts)
def test_amounts_with_nine_places_round_trip_exactly(amount: Decimal) -> None:
    assert from_nano(to_nano(amount)) == amount
    assert hold_nano(amount) == settlement_nano(amount)


@given(any_amounts)
def test_hold_rounds_up_and_settlement_rounds_to_nearest(amount: Decimal) -> None:
    held, settled = hold_nano(amount), settlement_nano(amount)
    with localcontext(prec=1000):  # the comparisons themselves must not round
        exact = amount.scaleb(9)
        assert exact <= held < exact + 1
        assert abs(settled - exact) <= Decimal("0.5")
    assert settled <= held


@pytest.mark.parametrize(
    ("text", "held", "settled"),
    [
        ("0.0000000001", 1, 0),
        ("0.0000000005", 1, 0),  # half to even: 0
        ("0.0000000015", 2, 2),  # half to even: 2
        ("0.0000000025", 3, 2),
        ("1.23", 1_230_000_000, 1_230_000_000),
        ("1e-1000000", 1, 0),
    ],
)
def test_rounding_choices(text: str, held: int, settled: int) -> None:
    assert hold_nano(Decimal(text)) == held
    assert settlement_nano(Decimal(text)) == settled


def test_from_nano_is_exact_and_typed() -> None:
    assert from_nano(1) == Decimal("0.000000001")
    assert from_nano(MAX_NANO) == MAX_USD
    with pytest.raises(TypeError):
        from_nano(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        to_nano(0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("1e12")])
def test_to_nano_refuses_non_finite_and_huge(value: Decimal) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_nano(value, field="limit")
    assert caught.value.field == "limit"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.50", Decimal("12.50")),
        (" 3 ", Decimal(3)),
        ("+0.5", Decimal("0.5")),
        (".25", Decimal("0.25")),
        ("7.", Decimal(7)),
        (7, Decimal(7)),
        (Decimal("0.000000001"), Decimal("0.000000001")),
        ("0", Decimal(0)),
    ],
)
def test_parse_usd_accepts_plain_decimals(value: object, expected: Decimal) -> None:
    assert parse_usd(value, field="limit") == expected


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        True,
        None,
        [],
        "",
        "abc",
        "NaN",
        "Infinity",
        "-1",
        "1e3",
        "1_000",
        "1,5",
        "$5",
        -1,
        Decimal("NaN"),
        Decimal("-0.01"),
        Decimal("sNaN"),
        "99999999999",
    ],
)
def test_parse_usd_refuses_bad_input_naming_the_field(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_usd(value, field="limit")
    assert caught.value.field == "limit"
    assert "limit" in caught.value.message


def test_parse_usd_explains_floats_and_zero() -> None:
    with pytest.raises(InvalidInput, match="as a string"):
        parse_usd(0.1, field="amount")
    with pytest.raises(InvalidInput, match="greater than zero"):
        parse_usd("0", field="amount", allow_zero=False)


def test_parse_nano() -> None:
    assert parse_nano("0.05", field="limit") == 50_000_000
    assert parse_nano("0.0000000001", field="limit", rounding="ROUND_CEILING") == 1


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("12.5"), "12.50"),
        (Decimal("12.500000000"), "12.50"),
        (Decimal("0.000000125"), "0.000000125"),
        (Decimal(0), "0.00"),
        (Decimal("-0"), "0.00"),
        (Decimal("1E+3"), "1000.00"),
        (Decimal("-2.5"), "-2.50"),
    ],
)
def test_format_usd(amount: Decimal, text: str) -> None:
    assert format_usd(amount) == text


@given(nanos)
def test_format_is_plain_and_round_trips(nano: int) -> None:
    text = format_nano(nano)
    assert "e" not in text.lower()
    assert to_nano(Decimal(text)) == nano
