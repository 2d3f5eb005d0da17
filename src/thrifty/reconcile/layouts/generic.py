"""Thrifty's own layout, for any provider: one row per day, model and account.

    date,model,account,input_tokens,cached_input_tokens,output_tokens,requests,cost_usd

``date``, ``model`` and at least one of ``cost_usd``, ``input_tokens``, ``output_tokens`` are
required; the rest are optional. ``input_tokens`` includes ``cached_input_tokens``, as in the
ledger; ``cost_usd`` is a decimal USD amount.
"""

from __future__ import annotations

from datetime import date

from thrifty.reconcile.invoice import InvoiceLine
from thrifty.reconcile.layouts.base import Variant, check_cached
from thrifty.reconcile.table import Header, Row

COLUMNS = (
    "date",
    "model",
    "account",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "requests",
    "cost_usd",
)
_FIGURES = {
    "input_tokens": "input_tokens",
    "cached_input_tokens": "cached_input_tokens",
    "output_tokens": "output_tokens",
    "requests": "requests",
    "cost_usd": "cost_nano",
}


def _matches(header: Header) -> bool:
    return (
        header.has("date")
        and header.has("model")
        and header.has("cost_usd", "input_tokens", "output_tokens")
    )


def _measures(header: Header) -> frozenset[str]:
    return frozenset(measure for column, measure in _FIGURES.items() if header.has(column))


def _read(row: Row, day: date, account: str | None) -> InvoiceLine | None:
    model = row.text("model")
    if model is None:
        if row.is_empty(*_FIGURES):
            return None
        raise row.error("model", "empty")
    input_tokens = row.count("input_tokens")
    cached = row.count("cached_input_tokens")
    check_cached(row, "cached_input_tokens", cached, input_tokens)
    return InvoiceLine(
        row=row.number,
        day=day,
        model=model,
        account=account,
        input_tokens=input_tokens,
        cached_input_tokens=cached,
        output_tokens=row.count("output_tokens"),
        requests=row.count("requests"),
        cost_nano=row.usd_nano("cost_usd"),
    )


GENERIC = Variant(
    layout="generic",
    name="generic",
    title="generic layout",
    requires="date, model, and cost_usd or input_tokens/output_tokens",
    matches=_matches,
    day_columns=("date",),
    account_columns=("account",),
    measures=_measures,
    read=_read,
)
