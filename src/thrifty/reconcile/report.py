"""The outcome of a reconciliation, and its JSON form (USD amounts as exact decimal strings)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from thrifty.budgets.money import format_nano
from thrifty.reconcile.models import ModelMatch

#: The kinds of discrepancy, in the order the report counts them.
KINDS = ("missing_in_ledger", "missing_in_invoice", "cost_mismatch", "tokens_mismatch")


@dataclass(frozen=True, slots=True)
class Figures:
    """One side's sums for a group (or a difference of two). ``None``: not known / compared."""

    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_tokens: int | None = None
    requests: int | None = None
    cost_nano: int | None = None

    def json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "output_tokens": self.output_tokens,
            "requests": self.requests,
            "cost_usd": None if self.cost_nano is None else format_nano(self.cost_nano),
        }


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One (day, model, account) group on which the invoice and the ledger disagree.

    ``kind``: ``missing_in_ledger`` (billed, the gateway recorded nothing), ``missing_in_invoice``
    (recorded, not billed), ``cost_mismatch`` or ``tokens_mismatch`` (both sides have it, the
    cost, or else a token count, differs beyond the tolerance). ``delta`` is invoice − ledger
    per measure (``None`` where not compared); ``delta_percent`` is the cost delta in percent of
    the ledger's cost (``None`` when the ledger's cost is zero or the invoice's unknown).
    ``differing`` names the measures beyond the tolerance. ``cost_source`` says whether the
    invoice's cost was ``billed`` (in the export) or ``priced`` (computed from its tokens).
    """

    kind: str
    day: date
    model: str  # the gateway's model id, or the invoice's name when it could not be mapped
    account: str | None
    invoice: Figures | None  # None when missing in the invoice
    ledger: Figures | None  # None when missing in the ledger
    delta: Figures
    delta_percent: Decimal | None
    differing: tuple[str, ...]
    cost_source: str | None  # "billed" | "priced" | None (the invoice's cost is unknown)
    model_mapped: bool
    invoice_models: tuple[str, ...]  # the provider's names that fed this group
    invoice_rows: tuple[int, ...]

    @property
    def delta_nano(self) -> int | None:
        """Invoice cost − ledger cost in nano-USD; ``None`` when the invoice's cost is unknown."""
        return self.delta.cost_nano

    def json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "day": self.day.isoformat(),
            "model": self.model,
            "model_mapped": self.model_mapped,
            "account": self.account,
            "invoice": None if self.invoice is None else self.invoice.json(),
            "ledger": None if self.ledger is None else self.ledger.json(),
            "delta": self.delta.json(),
            "delta_usd": None if self.delta_nano is None else format_nano(self.delta_nano),
            "delta_percent": None if self.delta_percent is None else str(self.delta_percent),
            "differing": list(self.differing),
            "cost_source": self.cost_source,
            "invoice_models": list(self.invoice_models),
            "invoice_rows": list(self.invoice_rows),
        }


@dataclass(frozen=True, slots=True)
class Report:
    """A reconciliation: totals over the period, counts, and the discrepancies, largest first.

    ``cost_source`` is ``billed``, ``priced`` (every invoice cost was computed from tokens),
    ``mixed``, ``partial`` (some groups have no cost) or ``none``. ``groups`` counts the
    (day, model, account) groups of either side, ``matched`` those on both sides.
    """

    layout: str
    variant: str
    first_day: date | None
    last_day: date | None
    by_account: bool
    cost_source: str
    invoice: Figures
    ledger: Figures
    delta: Figures
    groups: int
    matched: int
    discrepancies: tuple[Discrepancy, ...]
    models: tuple[ModelMatch, ...]
    invoice_lines_outside_period: int = 0
    ledger_lines_outside_period: int = 0

    @property
    def unmapped_models(self) -> tuple[str, ...]:
        """Invoice model names no gateway model id was found for (or several were)."""
        return tuple(m.invoice_model for m in self.models if m.ledger_model is None)

    @property
    def counts(self) -> dict[str, int]:
        kinds = Counter(d.kind for d in self.discrepancies)
        return {
            "groups": self.groups,
            "matched": self.matched,
            "discrepancies": len(self.discrepancies),
            **{kind: kinds[kind] for kind in KINDS},
        }

    def json(self) -> dict[str, Any]:
        """JSON-ready dicts: dates ISO, USD amounts as exact strings (``"12.50"``)."""
        return {
            "layout": self.layout,
            "variant": self.variant,
            "first_day": None if self.first_day is None else self.first_day.isoformat(),
            "last_day": None if self.last_day is None else self.last_day.isoformat(),
            "by_account": self.by_account,
            "cost_source": self.cost_source,
            "totals": {
                "invoice": self.invoice.json(),
                "ledger": self.ledger.json(),
                "delta": self.delta.json(),
            },
            "counts": self.counts,
            "invoice_lines_outside_period": self.invoice_lines_outside_period,
            "ledger_lines_outside_period": self.ledger_lines_outside_period,
            "models": [
                {
                    "invoice_model": m.invoice_model,
                    "ledger_model": m.ledger_model,
                    "rule": m.rule,
                    "candidates": list(m.candidates),
                }
                for m in self.models
            ],
            "unmapped_models": list(self.unmapped_models),
            "discrepancies": [d.json() for d in self.discrepancies],
        }
