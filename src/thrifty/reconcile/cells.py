"""Reading one CSV cell: a UTC day, a whole count, an exact USD amount.

Each reader takes the cell's text (already stripped, never empty) and returns the value or
raises :class:`CellError` with the reason; the caller adds the row and column. Money never
passes through ``float``: amounts are parsed as ``Decimal`` and rounded half-even to the
nano-USD once, as settlements are (``thrifty.budgets.money``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

from thrifty.budgets.money import SETTLEMENT_ROUNDING, to_nano
from thrifty.errors import InvalidInput

# Plain or scientific decimal notation ("0.0038", "-1.5", "1E-7"), nothing else: no
# thousands separators, no currency signs, no "nan" or "inf".
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
# Unix seconds, as OpenAI's exports write start_time ("1736553600", or "1736553600.0" once a
# spreadsheet or pandas has been through the file). Eight digits alone are an ISO basic date
# (20250131), not a second of 1970.
_UNIX_SECONDS = re.compile(r"\d+(?:\.0*)?")
_BASIC_DATE = re.compile(r"\d{8}")
# The largest Unix second we accept (year 9999): a millisecond timestamp is refused instead of
# being read as a date thousands of years away.
_MAX_UNIX_SECONDS = 253_402_300_799

DATE_FORMS = "an ISO date (2025-01-31), an ISO date-time (2025-01-31T00:00:00Z) or Unix seconds"


class CellError(ValueError):
    """A cell's text is not what its column holds; the message says why."""


def parse_day(text: str) -> date:
    """The UTC day a cell's date or start time falls on.

    Accepts an ISO date, an ISO date-time (with an offset or ``Z``; one without an offset is
    taken as UTC, as both providers' exports are UTC) or Unix seconds (eight digits alone are
    an ISO basic date, ``20250131``). A time is converted to
    UTC before its day is taken: ``2025-01-31T23:30:00-05:00`` is 1 February.
    """
    if _UNIX_SECONDS.fullmatch(text) and not _BASIC_DATE.fullmatch(text):
        seconds = int(text.split(".", 1)[0])
        if seconds > _MAX_UNIX_SECONDS:
            raise CellError(
                f"not a date or time ({text!r}): Unix seconds expected, not milliseconds"
            )
        return datetime.fromtimestamp(seconds, UTC).date()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CellError(f"not a date or time ({text!r}); expected {DATE_FORMS}") from None
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(UTC).date()


def parse_count(text: str) -> int:
    """A whole, non-negative count of tokens or requests.

    ``"59200"`` and ``"59200.0"`` (the form OpenAI's dashboard export writes) are both 59200;
    ``"1.5"`` and ``"-3"`` are refused.
    """
    if not _DECIMAL.fullmatch(text):
        raise CellError(f"not a number ({text!r})")
    value = Decimal(text)
    if value.adjusted() > 18:
        raise CellError(f"too large ({text!r})")
    if value != value.to_integral_value():
        raise CellError(f"not a whole number ({text!r})")
    if value < 0:
        raise CellError(f"must not be negative ({text!r})")
    return int(value)


def parse_usd_nano(text: str, *, minor_units: bool = False) -> int:
    """An exact amount in integer nano-USD, rounded half-even.

    ``minor_units`` reads the cell as cents (Anthropic's cost report gives ``"123.45"`` for
    $1.2345). Negative amounts (credits, refunds) are kept.
    """
    if not _DECIMAL.fullmatch(text):
        raise CellError(f"not a number ({text!r})")
    amount = Decimal(text)
    if amount.adjusted() > 12:
        raise CellError(f"out of range ({text!r})")
    if minor_units:
        amount = amount.scaleb(-2)
    try:
        return to_nano(amount, rounding=SETTLEMENT_ROUNDING)
    except InvalidInput:
        raise CellError(f"out of range ({text!r})") from None
