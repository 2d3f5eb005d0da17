"""Exact money: ``Decimal`` US dollars outside, integer nano-USD (10⁻⁹ USD) in the ledger.

Money never passes through ``float``. User input is parsed from ``str``, ``int`` or ``Decimal``
only; a ``float`` is refused because it usually already lost the exact amount.

Rounding to the nano-USD, chosen per use:

* **Holds round up** (``ROUND_CEILING``, :func:`hold_nano`): a hold reserves the worst case,
  so rounding it down could let a request spend a fraction of a nano-USD it never reserved and
  overspend a hard budget.
* **Settlements round half-even** (``ROUND_HALF_EVEN``, :func:`settlement_nano`): the posted
  cost of a call is the best estimate of what the provider bills; half-even ("banker's")
  rounding has no systematic bias, so the sum of many settlements does not drift up or down.

Amounts are bounded by :data:`MAX_NANO` (the largest signed 64-bit integer, the SQL
``BIGINT`` the ledger stores), a little over 9.2 billion USD.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal, localcontext

from thrifty.errors import InvalidInput

NANOS_PER_USD = 10**9
MAX_NANO = 2**63 - 1
MAX_USD = Decimal(MAX_NANO).scaleb(-9)
HOLD_ROUNDING = ROUND_CEILING
SETTLEMENT_ROUNDING = ROUND_HALF_EVEN

# Plain decimal notation only: no exponent, no sign but an optional "+", no underscores.
_PLAIN_DECIMAL = re.compile(r"\+?(?:\d+(?:\.\d*)?|\.\d+)")


def to_nano(amount: Decimal, *, rounding: str = SETTLEMENT_ROUNDING, field: str = "amount") -> int:
    """Convert ``amount`` USD to integer nano-USD, rounding with ``rounding``.

    Raises ``InvalidInput`` for a non-finite amount or one whose magnitude exceeds
    :data:`MAX_NANO`. Negative amounts convert (a refund is a negative settlement).
    """
    if not isinstance(amount, Decimal) or isinstance(amount, bool):
        raise TypeError(f"to_nano expects a Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise InvalidInput(f"{field} must be a finite number, not {amount}", field=field)
    if amount.is_zero():
        return 0
    if amount.adjusted() > 10:
        raise InvalidInput(f"{field} must be at most {MAX_USD} USD", field=field)
    if amount.adjusted() < -20:
        # Far below a nano-USD: every such amount of one sign rounds alike, so use a stand-in
        # instead of working with a huge number of digits.
        amount = Decimal("1e-20").copy_sign(amount)
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    with localcontext() as context:
        # Enough digits that scaling and quantizing are exact before the one rounding step.
        context.prec = len(amount.as_tuple().digits) + abs(exponent) + 20
        nano = int(amount.scaleb(9).quantize(Decimal(1), rounding=rounding))
    if abs(nano) > MAX_NANO:
        raise InvalidInput(f"{field} must be at most {MAX_USD} USD", field=field)
    return nano


def hold_nano(amount: Decimal) -> int:
    """Nano-USD to hold for a worst-case ``amount``: rounded up, never under-reserved."""
    return to_nano(amount, rounding=HOLD_ROUNDING)


def settlement_nano(amount: Decimal) -> int:
    """Nano-USD to post for an actual cost ``amount``: rounded half-even, unbiased."""
    return to_nano(amount, rounding=SETTLEMENT_ROUNDING)


def from_nano(nano: int) -> Decimal:
    """The exact ``Decimal`` USD value of ``nano`` nano-USD (always 9 decimal places)."""
    if not isinstance(nano, int) or isinstance(nano, bool):
        raise TypeError(f"from_nano expects an int, not {type(nano).__name__}")
    return Decimal(f"{nano}e-9")


def parse_usd(value: object, *, field: str, allow_zero: bool = True) -> Decimal:
    """Parse a user-supplied non-negative USD amount from ``str``, ``int`` or ``Decimal``.

    Strings must be plain decimal notation (``"12"``, ``"0.05"``, ``"+3.5"``; surrounding
    whitespace is ignored). ``float``, ``bool``, negative, non-finite and too-large amounts are
    refused with ``InvalidInput`` naming ``field``. The result is exact, not yet rounded.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        kind = type(value).__name__
        hint = ' (send the amount as a string, e.g. "12.50")' if isinstance(value, float) else ""
        raise InvalidInput(
            f"{field} must be a decimal string or an integer, not {kind}{hint}", field=field
        )
    if isinstance(value, str):
        text = value.strip()
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise InvalidInput(
                f'{field} must be a non-negative decimal such as "12.50", not {value!r}',
                field=field,
            )
        amount = Decimal(text)
    else:
        amount = Decimal(value)
    if not amount.is_finite():
        raise InvalidInput(f"{field} must be a finite number, not {amount}", field=field)
    if amount < 0:
        raise InvalidInput(f"{field} must not be negative, got {amount}", field=field)
    if amount == 0 and not allow_zero:
        raise InvalidInput(f"{field} must be greater than zero", field=field)
    if amount > MAX_USD:
        raise InvalidInput(f"{field} must be at most {MAX_USD} USD", field=field)
    return amount + Decimal(0)  # normalizes -0 to 0


def parse_nano(value: object, *, field: str, rounding: str = SETTLEMENT_ROUNDING) -> int:
    """Parse user input like :func:`parse_usd` and convert it to nano-USD."""
    return to_nano(parse_usd(value, field=field), rounding=rounding, field=field)


def format_usd(amount: Decimal) -> str:
    """Plain decimal string, no exponent, at least two decimals: ``"12.50"``, ``"0.000000125"``."""
    if not amount.is_finite():
        raise ValueError(f"cannot format {amount}")
    if amount.is_zero():
        return "0.00"
    text = str(amount)  # three times faster than format(amount, "f"), which exponents need
    if "E" in text:
        text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def format_nano(nano: int) -> str:
    """:func:`format_usd` of ``nano`` nano-USD."""
    return format_usd(from_nano(nano))
