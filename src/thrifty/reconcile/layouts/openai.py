"""OpenAI's usage and cost exports (the dashboard's CSV and the Usage/Costs API as rows).

Both write each time bucket's start as ``start_time`` (Unix seconds) and ``start_time_iso``;
rows of a bucket without usage carry only the times. The usage export is the Usage API's
completions result (tokens, no cost); the cost export is the Costs API's result grouped by
line item (cost, no tokens). docs/reconciliation.md lists the columns and their sources.
"""

from __future__ import annotations

from datetime import date

from thrifty.reconcile.invoice import InvoiceLine
from thrifty.reconcile.layouts.base import Variant, check_cached, check_usd
from thrifty.reconcile.table import Header, Row

DAY = ("start_time", "start_time_iso")
ACCOUNT = ("project_id", "api_key_id")
USAGE_FIGURES = ("input_tokens", "input_cached_tokens", "output_tokens", "num_model_requests")


def model_of_line_item(item: str) -> str:
    """The model a cost line item is for.

    ``"gpt-4o-2024-08-06, input"`` and ``"gpt-4o-2024-08-06, cached input"`` are
    ``"gpt-4o-2024-08-06"``. A surface prefix stays (``"evals | gpt-4o-mini-2024-07-18, input"``
    is ``"evals | gpt-4o-mini-2024-07-18"``: usage of another product, not the gateway's), and
    a line item without a ``", kind"`` suffix (``"assistants api | file search"``) is its own
    model, so it is reported as unmapped rather than dropped.
    """
    model, comma, _kind = item.rpartition(",")
    return model.strip() if comma and model.strip() else item.strip()


def _usage_matches(header: Header) -> bool:
    return (
        header.has(*DAY)
        and all(header.has(name) for name in ("model", "input_tokens", "output_tokens"))
        and not header.has("amount_value")
    )


def _usage_measures(header: Header) -> frozenset[str]:
    measures = {"input_tokens", "output_tokens"}
    if header.has("input_cached_tokens"):
        measures.add("cached_input_tokens")
    if header.has("num_model_requests"):
        measures.add("requests")
    return frozenset(measures)


def _read_usage(row: Row, day: date, account: str | None) -> InvoiceLine | None:
    if row.is_empty("model", *USAGE_FIGURES):
        return None  # a bucket without usage
    model = row.text("model")
    if model is None:
        raise row.error("model", "empty (export the usage grouped by model)")
    input_tokens = row.count("input_tokens")
    cached = row.count("input_cached_tokens")
    check_cached(row, "input_cached_tokens", cached, input_tokens)
    return InvoiceLine(
        row=row.number,
        day=day,
        model=model,
        account=account,
        input_tokens=input_tokens,
        cached_input_tokens=cached,
        output_tokens=row.count("output_tokens"),
        requests=row.count("num_model_requests"),
        cost_nano=None,
    )


def _costs_matches(header: Header) -> bool:
    return header.has(*DAY) and header.has("amount_value") and header.has("line_item")


def _read_costs(row: Row, day: date, account: str | None) -> InvoiceLine | None:
    item = row.text("line_item")
    amount = row.usd_nano("amount_value")
    if item is None:
        if not amount:
            return None  # a bucket without cost
        raise row.error("line_item", "empty (export the costs grouped by line item)")
    if amount is None:
        raise row.error("amount_value", "empty")
    check_usd(row, "amount_currency")
    return InvoiceLine(
        row=row.number,
        day=day,
        model=model_of_line_item(item),
        account=account,
        input_tokens=None,
        cached_input_tokens=None,
        output_tokens=None,
        requests=None,
        cost_nano=amount,
    )


USAGE = Variant(
    layout="openai",
    name="usage",
    title="OpenAI usage export",
    requires="start_time (or start_time_iso), model, input_tokens, output_tokens",
    matches=_usage_matches,
    day_columns=DAY,
    account_columns=ACCOUNT,
    measures=_usage_measures,
    read=_read_usage,
)

COSTS = Variant(
    layout="openai",
    name="costs",
    title="OpenAI cost export",
    requires="start_time (or start_time_iso), amount_value, line_item",
    matches=_costs_matches,
    day_columns=DAY,
    account_columns=ACCOUNT,
    measures=lambda header: frozenset({"cost_nano"}),
    read=_read_costs,
)
