"""What every export layout provides: how to recognise its header and read one of its rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from thrifty.reconcile.invoice import InvoiceLine
from thrifty.reconcile.table import Header, Row

#: Reads one data row (its UTC day and account already taken) into a line, or ``None`` for an
#: empty bucket (a dated row with no model and no figures, as OpenAI exports days without use).
RowReader = Callable[[Row, date, str | None], InvoiceLine | None]


@dataclass(frozen=True, slots=True)
class Variant:
    """One export format: ``layout`` (``"openai"``) and ``name`` (``"usage"``)."""

    layout: str
    name: str
    title: str  # "OpenAI usage export": for error messages
    requires: str  # the columns it needs, for the message an unknown header gets
    matches: Callable[[Header], bool]
    day_columns: tuple[str, ...]  # tried in order; the first present holds each row's day
    account_columns: tuple[str, ...]  # tried in order; the first present holds the accounts
    measures: Callable[[Header], frozenset[str]]
    read: RowReader


def required_text(row: Row, *names: str) -> str:
    """The text of the first present column of ``names``; an empty cell is an error."""
    value = row.text(*names)
    if value is None:
        raise row.error(row.header.first(*names) or names[0], "empty")
    return value


def check_usd(row: Row, *names: str) -> None:
    """Refuse a currency other than USD (the ledger is in USD)."""
    currency = row.text(*names)
    if currency is not None and currency.lower() != "usd":
        column = row.header.first(*names) or names[0]
        raise row.error(column, f"currency {currency!r}: only USD amounts can be reconciled")


def check_cached(row: Row, column: str, cached: int | None, total: int | None) -> None:
    if cached is not None and total is not None and cached > total:
        raise row.error(column, f"{cached} cached input tokens exceed the {total} input tokens")
