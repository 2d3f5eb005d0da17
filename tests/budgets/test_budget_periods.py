from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.budgets.periods import (
    CarryOverPolicy,
    Period,
    PeriodKind,
    carry_over,
    local_midnight,
    parse_period,
    parse_period_kind,
    period_window,
    previous_window,
    window_at,
)
from thrifty.errors import InvalidInput

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # half-hour DST
    "Pacific/Apia",  # skipped 2011-12-30 crossing the date line
    "America/Santiago",  # DST changes at midnight
    "America/Havana",  # DST changes at midnight
    "Asia/Kathmandu",
    "America/St_Johns",
    "Pacific/Kiritimati",
]
REPEATING = [kind for kind in PeriodKind if kind is not PeriodKind.CUSTOM]
SECOND = timedelta(seconds=1)

periods = st.builds(
    Period,
    kind=st.sampled_from(REPEATING),
    start=st.dates(min_value=date(2005, 1, 1), max_value=date(2030, 12, 31)),
    timezone=st.sampled_from(ZONES),
)
# Hypothesis takes naive bounds and attaches the time zone itself.
instants = st.datetimes(
    min_value=datetime(2004, 1, 1),  # noqa: DTZ001
    max_value=datetime(2045, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def local(instant: datetime, zone: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone))


@settings(deadline=None, max_examples=300)
@given(periods, instants)
def test_window_contains_now_or_budget_not_started(period: Period, now: datetime) -> None:
    window = period_window(period, now)
    if now < local_midnight(period.start, period.zone):
        assert window is None
        return
    assert window is not None
    assert window.contains(now)
    assert window.start_utc.tzinfo is UTC and window.end_utc.tzinfo is UTC
    assert window.start_utc < window.end_utc


@settings(deadline=None, max_examples=200)
@given(periods, instants)
def test_windows_are_contiguous(period: Period, now: datetime) -> None:
    window = period_window(period, now)
    if window is None:
        return
    following = window_at(period, window.index + 1)
    assert following.start_utc == window.end_utc
    assert period_window(period, window.end_utc) == following
    before = previous_window(period, window)
    if before is None:
        assert window.index == 0
        assert window.start_utc == local_midnight(period.start, period.zone)
    else:
        assert before.end_utc == window.start_utc


@settings(deadline=None, max_examples=300)
@given(periods, st.integers(min_value=0, max_value=400))
def test_windows_start_at_local_midnight(period: Period, index: int) -> None:
    window = window_at(period, index)
    start = local(window.start_utc, period.timezone)
    just_before = local(window.start_utc - SECOND, period.timezone)
    assert just_before.date() < start.date()
    if start.time() != datetime.min.time():
        # Only where midnight itself was skipped: the day starts at the clock change.
        assert just_before.utcoffset() != start.utcoffset()


@settings(deadline=None)
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 1, 1)), st.sampled_from(ZONES))
def test_local_midnight_is_the_first_instant_of_the_day(day: date, zone: str) -> None:
    start = local_midnight(day, ZoneInfo(zone))
    assert local(start, zone).date() >= day
    assert local(start - SECOND, zone).date() < day


def day_length(zone: str, day: date) -> timedelta:
    period = Period(PeriodKind.DAILY, date(2000, 1, 1), zone)
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(zone))
    window = period_window(period, noon)
    assert window is not None
    return window.duration


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", date(2024, 3, 10), 23),
        ("America/New_York", date(2024, 11, 3), 25),
        ("America/New_York", date(2024, 11, 4), 24),
        ("Europe/London", date(2024, 3, 31), 23),
        ("Europe/London", date(2024, 10, 27), 25),
        ("Australia/Lord_Howe", date(2024, 4, 7), 24.5),
        ("Australia/Lord_Howe", date(2024, 10, 6), 23.5),
        ("America/Santiago", date(2024, 9, 8), 23),
        ("Pacific/Apia", date(2011, 12, 29), 24),
        ("Pacific/Apia", date(2011, 12, 31), 24),
    ],
)
def test_dst_days_have_their_real_length(zone: str, day: date, hours: float) -> None:
    assert day_length(zone, day) == timedelta(hours=hours)


def test_midnight_skipped_by_dst_starts_the_day_at_the_change() -> None:
    # Chile springs forward at 24:00 → 01:00: the day begins at 01:00 local.
    start = local_midnight(date(2024, 9, 8), ZoneInfo("America/Santiago"))
    assert start == datetime(2024, 9, 8, 4, tzinfo=UTC)
    assert local(start, "America/Santiago").hour == 1


def test_a_skipped_date_is_an_empty_window() -> None:
    period = Period(PeriodKind.DAILY, date(2011, 12, 25), "Pacific/Apia")
    skipped = window_at(period, 5)  # 2011-12-30 never happened in Samoa
    assert skipped.start_utc == skipped.end_utc
    instant = skipped.start_utc
    window = period_window(period, instant)
    assert window is not None and window.index == 6


def test_weeks_start_on_the_start_dates_weekday() -> None:
    period = Period(PeriodKind.WEEKLY, date(2025, 1, 1), "Europe/Paris")  # a Wednesday
    window = period_window(period, datetime(2025, 3, 3, 9, tzinfo=UTC))  # a Monday
    assert window is not None
    start = local(window.start_utc, "Europe/Paris")
    assert start.date() == date(2025, 2, 26) and start.weekday() == 2
    assert window.duration == timedelta(days=7)


def boundaries(kind: PeriodKind, start: date, count: int) -> list[date]:
    period = Period(kind, start, "UTC")
    return [window_at(period, n).start_utc.date() for n in range(count)]


def test_months_clamp_to_month_length_and_re_anchor() -> None:
    assert boundaries(PeriodKind.MONTHLY, date(2024, 1, 31), 5) == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    ]
    assert boundaries(PeriodKind.QUARTERLY, date(2023, 11, 30), 4) == [
        date(2023, 11, 30),
        date(2024, 2, 29),
        date(2024, 5, 30),
        date(2024, 8, 30),
    ]
    assert boundaries(PeriodKind.YEARLY, date(2024, 2, 29), 5) == [
        date(2024, 2, 29),
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),
    ]


def test_month_window_turns_over_at_local_midnight() -> None:
    period = Period(PeriodKind.MONTHLY, date(2025, 1, 1), "America/New_York")
    window = period_window(period, datetime(2025, 3, 15, tzinfo=UTC))
    assert window is not None
    assert window.start_utc == datetime(2025, 3, 1, 5, tzinfo=UTC)  # EST
    assert window.end_utc == datetime(2025, 4, 1, 4, tzinfo=UTC)  # EDT
    assert window.index == 2


def test_custom_window_is_inclusive_of_its_end_date() -> None:
    period = Period(PeriodKind.CUSTOM, date(2025, 1, 1), "Asia/Tokyo", date(2025, 1, 31))
    window = period_window(period, datetime(2025, 1, 31, 14, 59, tzinfo=UTC))
    assert window is not None
    assert window.start_utc == datetime(2024, 12, 31, 15, tzinfo=UTC)
    assert window.end_utc == datetime(2025, 1, 31, 15, tzinfo=UTC)
    assert period_window(period, window.end_utc) is None  # after the end
    assert period_window(period, window.start_utc - SECOND) is None  # before the start
    with pytest.raises(ValueError, match="no window"):
        window_at(period, 1)


def test_naive_now_is_refused() -> None:
    period = Period(PeriodKind.DAILY, date(2025, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        period_window(period, datetime(2025, 1, 2))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("text", "kind"),
    [("monthly", PeriodKind.MONTHLY), (" Weekly ", PeriodKind.WEEKLY), ("year", PeriodKind.YEARLY)],
)
def test_parse_period_kind(text: str, kind: PeriodKind) -> None:
    assert parse_period_kind(text) is kind


def test_parse_period() -> None:
    period = parse_period("custom", start="2025-01-01", end="2025-03-31", timezone="Europe/London")
    assert period == Period(PeriodKind.CUSTOM, date(2025, 1, 1), "Europe/London", date(2025, 3, 31))


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"kind": "fortnightly", "start": "2025-01-01"}, "period.kind", "one of daily"),
        ({"kind": 3, "start": "2025-01-01"}, "period.kind", "one of"),
        ({"kind": "daily", "start": "2025-13-01"}, "period.start", "YYYY-MM-DD"),
        ({"kind": "daily", "start": "20250101"}, "period.start", "YYYY-MM-DD"),
        ({"kind": "daily", "start": None}, "period.start", "YYYY-MM-DD"),
        (
            {"kind": "daily", "start": "2025-01-01", "timezone": "Mars/Olympus"},
            "period.timezone",
            "unknown time zone",
        ),
        (
            {"kind": "daily", "start": "2025-01-01", "timezone": "../etc/passwd"},
            "period.timezone",
            "unknown time zone",
        ),
        ({"kind": "daily", "start": "2025-01-01", "timezone": ""}, "period.timezone", "IANA"),
        ({"kind": "daily", "start": "2025-01-01", "timezone": 1}, "period.timezone", "string"),
        ({"kind": "custom", "start": "2025-01-01"}, "period.end", "needs an end"),
        ({"kind": "custom", "start": "2025-02-01", "end": "2025-01-01"}, "period.end", "before"),
        (
            {"kind": "monthly", "start": "2025-01-01", "end": "2025-02-01"},
            "period.end",
            "only a custom",
        ),
    ],
)
def test_parse_period_errors_name_the_field(
    arguments: dict[str, object], field: str, message: str
) -> None:
    kind = arguments.pop("kind")
    with pytest.raises(InvalidInput, match=message) as caught:
        parse_period(kind, **arguments)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("policy", "spent", "carried"),
    [
        (CarryOverPolicy(), 30, 0),
        (CarryOverPolicy(enabled=True), 30, 70),
        (CarryOverPolicy(enabled=True, cap_nano=50), 30, 50),
        (CarryOverPolicy(enabled=True, cap_nano=50), 90, 10),
        (CarryOverPolicy(enabled=True), 130, 0),  # an overspent soft budget carries no debt
    ],
)
def test_carry_over(policy: CarryOverPolicy, spent: int, carried: int) -> None:
    assert carry_over(100, spent, policy) == carried


def test_carry_over_cap_must_not_be_negative() -> None:
    with pytest.raises(InvalidInput):
        CarryOverPolicy(enabled=True, cap_nano=-1)
