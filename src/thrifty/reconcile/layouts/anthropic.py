"""Anthropic's usage and cost exports: the Console's CSV, or the Admin API's reports as rows.

The Console (Usage / Cost pages, "Export") writes ``usage_date_utc`` and its own column names
(``usage_input_tokens_no_cache``, ``cost_usd``, ...); the Admin API's usage report and cost
report name the same figures ``uncached_input_tokens``, ``amount`` (in cents) and so on. Each
column below lists the Console's name first, then the API's. docs/reconciliation.md lists the
columns and their sources, and which names could not be confirmed.
"""

from __future__ import annotations

from datetime import date

from thrifty.reconcile.invoice import InvoiceLine
from thrifty.reconcile.layouts.base import Variant, check_usd
from thrifty.reconcile.table import Header, Row

DAY = ("usage_date_utc", "starting_at")
ACCOUNT = ("workspace", "workspace_id", "api_key", "api_key_id")
MODEL = ("model_version", "model")
UNCACHED = ("usage_input_tokens_no_cache", "uncached_input_tokens")
CACHE_READ = ("usage_input_tokens_cache_read", "cache_read_input_tokens")
CACHE_WRITE_5M = (
    "usage_input_tokens_cache_write_5m",
    "cache_creation.ephemeral_5m_input_tokens",
    "ephemeral_5m_input_tokens",
)
CACHE_WRITE_1H = (
    "usage_input_tokens_cache_write_1h",
    "cache_creation.ephemeral_1h_input_tokens",
    "ephemeral_1h_input_tokens",
)
# Before 1-hour cache writes existed, the Console exported one cache-write column.
CACHE_WRITE_ANY = ("usage_input_tokens_cache_write", "cache_creation_input_tokens")
OUTPUT = ("usage_output_tokens", "output_tokens")
COST_USD = ("cost_usd",)
COST_CENTS = ("amount",)


def _usage_matches(header: Header) -> bool:
    return header.has(*DAY) and header.has(*MODEL) and header.has(*UNCACHED) and header.has(*OUTPUT)


def _usage_measures(header: Header) -> frozenset[str]:
    measures = {"input_tokens", "output_tokens"}
    if header.has(*CACHE_READ):
        measures.add("cached_input_tokens")
    return frozenset(measures)


def _read_usage(row: Row, day: date, account: str | None) -> InvoiceLine | None:
    split_writes = row.header.has(*CACHE_WRITE_5M, *CACHE_WRITE_1H)
    writes = (CACHE_WRITE_5M, CACHE_WRITE_1H) if split_writes else (CACHE_WRITE_ANY,)
    parts = (UNCACHED, CACHE_READ, *writes)
    counts = [row.count(*names) for names in parts]
    output = row.count(*OUTPUT)
    model = row.text(*MODEL)
    if model is None:
        if all(count is None for count in (*counts, output)):
            return None  # a bucket without usage
        raise row.error(row.header.first(*MODEL) or MODEL[0], "empty")
    known = [count for count in counts if count is not None]
    return InvoiceLine(
        row=row.number,
        day=day,
        model=model,
        account=account,
        # The ledger's input tokens include cache reads and cache writes, as OpenAI's do.
        input_tokens=sum(known) if known else None,
        cached_input_tokens=counts[1],
        output_tokens=output,
        requests=None,
        cost_nano=None,
    )


def _costs_matches(header: Header) -> bool:
    return (
        header.has(*DAY)
        and header.has(*COST_USD, *COST_CENTS)
        and header.has("model")
        and not header.has(*UNCACHED)
    )


def _read_costs(row: Row, day: date, account: str | None) -> InvoiceLine | None:
    if row.header.has(*COST_USD):
        cost = row.usd_nano(*COST_USD)
        cost_column = COST_USD[0]
    else:
        cost = row.usd_nano(*COST_CENTS, minor_units=True)
        cost_column = COST_CENTS[0]
    # A cost that is not for tokens (web search, code execution) may name no model: it is
    # reported under its cost type, so it shows as unmapped instead of vanishing.
    model = row.text("model") or row.text("cost_type")
    if model is None:
        if not cost:
            return None
        raise row.error("model", "empty (export the cost report grouped by model/description)")
    if cost is None:
        raise row.error(cost_column, "empty")
    check_usd(row, "currency")
    return InvoiceLine(
        row=row.number,
        day=day,
        model=model,
        account=account,
        input_tokens=None,
        cached_input_tokens=None,
        output_tokens=None,
        requests=None,
        cost_nano=cost,
    )


USAGE = Variant(
    layout="anthropic",
    name="usage",
    title="Anthropic usage export",
    requires=(
        "usage_date_utc (or starting_at), model_version (or model),"
        " usage_input_tokens_no_cache (or uncached_input_tokens),"
        " usage_output_tokens (or output_tokens)"
    ),
    matches=_usage_matches,
    day_columns=DAY,
    account_columns=ACCOUNT,
    measures=_usage_measures,
    read=_read_usage,
)

COSTS = Variant(
    layout="anthropic",
    name="costs",
    title="Anthropic cost export",
    requires="usage_date_utc (or starting_at), model, cost_usd (or amount in cents)",
    matches=_costs_matches,
    day_columns=DAY,
    account_columns=ACCOUNT,
    measures=lambda header: frozenset({"cost_nano"}),
    read=_read_costs,
)
