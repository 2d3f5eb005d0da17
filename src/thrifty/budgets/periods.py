"""Budget periods: which window of time a budget's spend is counted in, and carry-over.

A period turns over at **local midnight in the budget's own time zone**; windows are returned
as aware UTC datetimes ``[start_utc, end_utc)``. Every window is anchored on the budget's start
date, so the first window is always a full one:

* ``daily``: every local day.
* ``weekly``: seven local days starting on the **start date's weekday** (a budget starting on a
  Wednesday turns over every Wednesday; start it on a Monday for ISO weeks).
* ``monthly`` / ``quarterly`` / ``yearly``: 1, 3 or 12 months starting on the start date's
  day of month, clamped to the month's length and re-anchored each time (a budget starting
  Jan 31 turns over Feb 28 or 29, Mar 31, Apr 30, …; one starting Feb 29 turns over Feb 28
  in common years and Feb 29 in leap years).
* ``custom``: one window from the start date to the end date, **both inclusive** (it ends at
  the local midnight after the end date).

"Local midnight" of a date is the first instant whose local date is that date. Where midnight
itself is skipped by a DST change the day starts at the change; where midnight repeats, at its
first occurrence. A local date the zone skipped entirely (Pacific/Apia, 2011-12-30) yields an
empty window that no instant falls into. Consecutive windows are contiguous by construction.

Before the start date, and after a custom period's end, no window is active:
:func:`period_window` returns ``None`` and the budget does not apply.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from thrifty.errors import InvalidInput


class PeriodKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    CUSTOM = "custom"


_ALIASES = {
    "day": PeriodKind.DAILY,
    "week": PeriodKind.WEEKLY,
    "month": PeriodKind.MONTHLY,
    "quarter": PeriodKind.QUARTERLY,
    "year": PeriodKind.YEARLY,
    "annual": PeriodKind.YEARLY,
    "annually": PeriodKind.YEARLY,
}
_MONTHS_PER_PERIOD = {PeriodKind.MONTHLY: 1, PeriodKind.QUARTERLY: 3, PeriodKind.YEARLY: 12}


def load_zone(name: str, *, field: str = "timezone") -> ZoneInfo:
    """The IANA time zone ``name`` (e.g. ``"Europe/London"``), or ``InvalidInput``."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(
            f'{field} must be an IANA time zone name such as "Europe/Paris"', field=field
        )
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f'{field}: unknown time zone {name!r}; use an IANA name such as "America/New_York"',
            field=field,
        ) from None


@dataclass(frozen=True, slots=True)
class Period:
    """When a budget's windows turn over. ``end`` is used by ``custom`` only (inclusive)."""

    kind: PeriodKind
    start: date
    timezone: str = "UTC"
    end: date | None = None

    def __post_init__(self) -> None:
        load_zone(self.timezone, field="period.timezone")
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise InvalidInput("period.start must be a date", field="period.start")
        if self.kind is PeriodKind.CUSTOM:
            if self.end is None or isinstance(self.end, datetime):
                raise InvalidInput("a custom period needs an end date", field="period.end")
            if self.end < self.start:
                raise InvalidInput(
                    f"period.end {self.end} is before period.start {self.start}", field="period.end"
                )
        elif self.end is not None:
            raise InvalidInput(
                f"only a custom period has an end date, not a {self.kind} one", field="period.end"
            )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone.strip())


@dataclass(frozen=True, slots=True)
class Window:
    """The half-open interval ``[start_utc, end_utc)`` of the period numbered ``index``."""

    start_utc: datetime
    end_utc: datetime
    index: int

    def contains(self, instant: datetime) -> bool:
        return self.start_utc <= instant < self.end_utc

    @property
    def duration(self) -> timedelta:
        return self.end_utc - self.start_utc


def parse_period_kind(text: object, *, field: str = "period") -> PeriodKind:
    """``"monthly"``, ``" Monthly "``, ``"month"`` → ``PeriodKind.MONTHLY``."""
    if isinstance(text, PeriodKind):
        return text
    if isinstance(text, str):
        key = text.strip().lower().replace("_", "-")
        if key in PeriodKind.__members__.values():
            return PeriodKind(key)
        if key in _ALIASES:
            return _ALIASES[key]
    choices = ", ".join(kind.value for kind in PeriodKind)
    raise InvalidInput(f"{field} must be one of {choices}; got {text!r}", field=field)


def parse_date(value: object, *, field: str) -> date:
    """An ISO calendar date ``YYYY-MM-DD`` (a ``date`` passes through)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
    raise InvalidInput(f"{field} must be a date written YYYY-MM-DD; got {value!r}", field=field)


def parse_period(
    kind: object, *, start: object, timezone: object = "UTC", end: object = None
) -> Period:
    """Build a :class:`Period` from user input, with ``InvalidInput`` naming the bad field."""
    parsed_kind = parse_period_kind(kind, field="period.kind")
    if not isinstance(timezone, str):
        raise InvalidInput("period.timezone must be a string", field="period.timezone")
    zone = load_zone(timezone, field="period.timezone")
    parsed_end = None if end is None else parse_date(end, field="period.end")
    return Period(parsed_kind, parse_date(start, field="period.start"), zone.key, parsed_end)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant (aware UTC) whose local date in ``zone`` is ``day`` or later."""
    naive = datetime.combine(day, time())
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = min(first, second), max(first, second)
    if low.astimezone(zone).replace(tzinfo=None) == naive:
        return low  # midnight exists; if it repeats, ``low`` is its first occurrence
    # Midnight falls in a gap: ``low`` is still on an earlier date, ``high`` is on ``day``.
    # The day begins at the transition; find it to the second (offsets are whole seconds).
    low_s, high_s = int(low.timestamp()), int(high.timestamp())
    while high_s - low_s > 1:
        middle = (low_s + high_s) // 2
        if datetime.fromtimestamp(middle, zone).date() >= day:
            high_s = middle
        else:
            low_s = middle
    return datetime.fromtimestamp(high_s, UTC)


def _add_months(anchor: date, months: int) -> date:
    year, month0 = divmod(anchor.year * 12 + anchor.month - 1 + months, 12)
    month = month0 + 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def _boundary(period: Period, index: int) -> date:
    """The local date on which window ``index`` begins."""
    if period.kind is PeriodKind.DAILY:
        return period.start + timedelta(days=index)
    if period.kind is PeriodKind.WEEKLY:
        return period.start + timedelta(weeks=index)
    if period.kind is PeriodKind.CUSTOM:
        assert period.end is not None
        return period.start if index <= 0 else period.end + timedelta(days=1)
    return _add_months(period.start, index * _MONTHS_PER_PERIOD[period.kind])


def _guess_index(period: Period, local_day: date) -> int:
    days = (local_day - period.start).days
    if period.kind is PeriodKind.DAILY:
        return days
    if period.kind is PeriodKind.WEEKLY:
        return days // 7
    if period.kind is PeriodKind.CUSTOM:
        return 0
    step = _MONTHS_PER_PERIOD[period.kind]
    months = (local_day.year - period.start.year) * 12 + local_day.month - period.start.month
    index = months // step
    return index - 1 if _boundary(period, index) > local_day else index


def window_at(period: Period, index: int) -> Window:
    """Window number ``index`` (0 is the first) of ``period``."""
    if index < 0 or (period.kind is PeriodKind.CUSTOM and index != 0):
        raise ValueError(f"no window {index} in a {period.kind} period")
    zone = period.zone
    start = local_midnight(_boundary(period, index), zone)
    return Window(start, local_midnight(_boundary(period, index + 1), zone), index)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")


def period_window(period: Period, now: datetime) -> Window | None:
    """The window of ``period`` containing ``now``, or ``None`` when no window is active."""
    _require_aware(now)
    first_start = local_midnight(period.start, period.zone)
    if now < first_start:
        return None
    if period.kind is PeriodKind.CUSTOM:
        window = window_at(period, 0)
        return window if window.contains(now) else None
    try:
        index = max(0, _guess_index(period, now.astimezone(period.zone).date()))
        window = window_at(period, index)
        # The local date can disagree with the window around a repeated hour at midnight.
        while now >= window.end_utc:
            window = window_at(period, window.index + 1)
        while now < window.start_utc:
            window = window_at(period, window.index - 1)
    except (OverflowError, ValueError):
        raise InvalidInput(
            f"{now.isoformat()} is outside the supported dates", field="now"
        ) from None
    return window


def previous_window(period: Period, window: Window) -> Window | None:
    """The window before ``window``, or ``None`` for the first one."""
    return None if window.index == 0 else window_at(period, window.index - 1)


@dataclass(frozen=True, slots=True)
class CarryOverPolicy:
    """Whether unused budget moves to the next period, and at most how much (nano-USD)."""

    enabled: bool = False
    cap_nano: int | None = None

    def __post_init__(self) -> None:
        if self.cap_nano is not None and self.cap_nano < 0:
            raise InvalidInput("carry_over.cap must not be negative", field="carry_over.cap")


def carry_over(limit_nano: int, spent_in_previous_nano: int, policy: CarryOverPolicy) -> int:
    """Nano-USD carried into a period from the one before it.

    The unused part of the previous period's **base** limit (``limit_nano``, without its own
    carry-in or extensions), capped by ``policy.cap_nano``. Carry-over does not compound and
    an overspent (soft) period carries nothing: no debt is carried forward.
    """
    if not policy.enabled:
        return 0
    unused = max(0, limit_nano - spent_in_previous_nano)
    return unused if policy.cap_nano is None else min(unused, policy.cap_nano)
