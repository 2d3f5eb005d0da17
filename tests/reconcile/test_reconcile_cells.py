"""Reading one cell: the UTC day of a date or start time, whole counts, exact amounts."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thrifty.budgets.money import from_nano
from thrifty.reconcile.cells import CellError, parse_count, parse_day, parse_usd_nano


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2025-03-01", date(2025, 3, 1)),
        ("20250301", date(2025, 3, 1)),  # ISO basic, not a second of 1970
        ("2025-03-01T23:59:59Z", date(2025, 3, 1)),
        ("2025-03-01T23:59:59.999+00:00", date(2025, 3, 1)),
        ("2025-03-01 13:00:00", date(2025, 3, 1)),  # no offset: UTC, as the exports are
        ("2025-03-01T22:30:00-05:00", date(2025, 3, 2)),  # 03:30 UTC the next day
        ("2025-03-02T01:00:00+02:00", date(2025, 3, 1)),  # 23:00 UTC the day before
        ("1740787200", date(2025, 3, 1)),  # an OpenAI bucket's start_time
        ("1740873599", date(2025, 3, 1)),  # the last second of that day
        ("1740787200.0", date(2025, 3, 1)),
    ],
)
def test_a_bucket_belongs_to_the_utc_day_of_its_start(text: str, day: date) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize("text", ["1740787200123", "yesterday", "2025-02-30", "1740787200.5"])
def test_what_is_not_a_day_is_refused(text: str) -> None:
    with pytest.raises(CellError):
        parse_day(text)


@pytest.mark.parametrize(
    ("text", "count"), [("0", 0), ("59200", 59200), ("59200.0", 59200), ("1E3", 1000)]
)
def test_counts(text: str, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["1.5", "-1", "1,000", "ten", "1e30", "inf"])
def test_what_is_not_a_count_is_refused(text: str) -> None:
    with pytest.raises(CellError):
        parse_count(text)


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_an_amount_of_nine_places_reads_back_exactly(nano: int) -> None:
    text = format(from_nano(nano), "f")
    assert parse_usd_nano(text) == nano
    assert parse_usd_nano(format(from_nano(nano) * 100, "f"), minor_units=True) == nano
