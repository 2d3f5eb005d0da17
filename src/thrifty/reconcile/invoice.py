"""What a provider's usage or cost export says, one line per data row, in Thrifty's units.

Token counts follow the ledger's convention (``thrifty.providers.usage``): ``input_tokens``
includes the cached ones (cache reads) and cache writes; ``cached_input_tokens`` are the cache
reads. Costs are integer nano-USD (10⁻⁹ USD). A field the export does not carry is ``None``,
never a made-up zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

#: The measures an invoice can carry, as named on :class:`InvoiceLine`.
MEASURES = ("input_tokens", "cached_input_tokens", "output_tokens", "requests", "cost_nano")


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    row: int  # 1-based data row of the file (row 1 is the first record after the header)
    day: date  # UTC day of the usage (of the bucket's start)
    model: str  # as the provider names it: "gpt-4o-2024-08-06", "Claude Sonnet 4"
    account: str | None  # project, workspace or API key, whichever the file carries
    input_tokens: int | None
    cached_input_tokens: int | None
    output_tokens: int | None
    requests: int | None
    cost_nano: int | None  # billed cost; None when the export carries no cost


@dataclass(frozen=True, slots=True)
class Invoice:
    """A parsed export.

    ``variant`` is ``"usage"`` (tokens, no cost), ``"costs"`` (cost, no tokens) or, for the
    generic layout, ``"generic"``. ``measures`` are the fields of :data:`MEASURES` the file has
    columns for. ``first_day`` and ``last_day`` span every dated row, empty buckets included
    (OpenAI's exports list the days without usage): the period the export speaks for.
    """

    layout: str  # "openai" | "anthropic" | "generic"
    variant: str
    lines: tuple[InvoiceLine, ...]
    measures: frozenset[str]
    account_column: str | None  # the column the accounts came from
    first_day: date | None
    last_day: date | None
